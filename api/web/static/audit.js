/* Audit trail page (admins): filters, pages of 50, CSV export of the same filters. */
"use strict";

(() => {
  const { api, el, bi, label, query, errorText } = TW;
  const $ = (id) => document.getElementById(id);
  const PAGE = 50;
  const A = { offset: 0, total: 0 };

  function filters() {
    const f = {};
    const from = $("a-from").value, to = $("a-to").value;
    if (from) f.from = `${from}T00:00:00Z`;
    if (to) f.to = `${TW.addDays(to, 1)}T00:00:00Z`;
    for (const k of ["user", "action", "site"]) {
      const v = $(`a-${k}`).value.trim();
      if (v) f[k] = v;
    }
    return f;
  }

  function row(e) {
    const action = label("audit", e.action);
    const role = e.role ? label("roles", e.role) : null;
    const cls = e.action === "login_failed" ? "audit-failed" : "";
    return el("tr", { class: cls, dataset: { action: e.action } },
      el("td", { class: "mono", text: `${e.at.slice(0, 10)} ${e.at.slice(11, 19)}` }),
      el("td", { text: e.user || "–" }),
      el("td", { class: "label-cell" }, role ? bi(role) : "–"),
      el("td", { class: "label-cell" }, bi(action)),
      el("td", { text: e.site || "" }),
      el("td", { text: e.camera || "" }),
      el("td", { class: "mono", text: e.violation_id ? e.violation_id.slice(0, 12) : "", title: e.violation_id || undefined }),
      el("td", { class: "mono", text: e.ip || "" }),
      el("td", { class: "audit-detail", text: e.detail || "" }));
  }

  async function load() {
    document.body.dataset.ready = "0";
    $("a-error").hidden = true;
    const f = filters();
    $("a-csv").href = `${TW.boot.api}/audit${query({ ...f, format: "csv" })}`;
    try {
      const data = await api(`/audit${query({ ...f, limit: PAGE, offset: A.offset })}`);
      A.total = data.total;
      const body = $("a-table").querySelector("tbody");
      body.replaceChildren(...data.items.map(row));
      $("a-empty").hidden = data.items.length > 0;
      $("a-total").replaceChildren(bi(`共 ${data.total} 条`, `${data.total} entries`));
      const pages = Math.max(1, Math.ceil(data.total / PAGE));
      $("a-page").textContent = `${Math.floor(A.offset / PAGE) + 1} / ${pages}`;
      $("a-prev").disabled = A.offset === 0;
      $("a-next").disabled = A.offset + PAGE >= data.total;
    } catch (err) {
      $("a-error").textContent = errorText(err);
      $("a-error").hidden = false;
    }
    document.body.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("a-filters").addEventListener("submit", (ev) => { ev.preventDefault(); A.offset = 0; load(); });
    $("a-action").addEventListener("change", () => { A.offset = 0; load(); });
    $("a-clear").addEventListener("click", () => {
      $("a-filters").reset();
      A.offset = 0;
      load();
    });
    $("a-prev").addEventListener("click", () => { A.offset = Math.max(0, A.offset - PAGE); load(); });
    $("a-next").addEventListener("click", () => { A.offset += PAGE; load(); });
    load();
  });
})();
