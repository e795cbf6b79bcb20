/* TellerWatch pages: what every page shares. Plain browser JavaScript, no build step.
 *
 * Everything shown comes from the API with the session cookie; text from records is always set
 * with textContent (never innerHTML), so a camera or zone name cannot inject markup. */
"use strict";

const TW = (() => {
  const boot = JSON.parse(document.getElementById("tw-boot").textContent);
  const LANGS = ["both", "zh", "en"];

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : `HTTP ${status}`);
      this.status = status;
      this.detail = detail;
    }
  }

  /** fetch() against /api/v1 with the session cookie; JSON in and out; 401 goes to the login page. */
  async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const res = await fetch(boot.api + path, init);
    if (res.status === 401 && boot.page) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new ApiError(401, "not logged in");
    }
    if (raw) return res;
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = text; }
    }
    if (!res.ok) throw new ApiError(res.status, data && data.detail !== undefined ? data.detail : data);
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const s = q.toString();
    return s ? "?" + s : "";
  }

  /** el("div", {class: "x", dataset: {id: 1}}, child, "text") */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") node.setAttribute("class", v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  /** [zh, en] for a key of a label table (rules, states, review, severity, kinds, roles). */
  function label(table, key) {
    const t = boot.labels[table] || {};
    return t[key] || [key, key];
  }

  /** A bilingual span pair, shown or hidden by the language toggle's class on <html>. */
  function bi(zh, en) {
    if (Array.isArray(zh)) [zh, en] = zh;
    const frag = document.createDocumentFragment();
    frag.append(el("span", { class: "zh", lang: "zh-CN", text: zh }), " ", el("span", { class: "en", lang: "en", text: en }));
    return frag;
  }

  function lang() {
    const cls = [...document.documentElement.classList].find((c) => c.startsWith("lang-"));
    return cls ? cls.slice(5) : "both";
  }

  /** Plain-text form of a bilingual label for places that cannot hold markup (options, titles). */
  function text(zh, en) {
    if (Array.isArray(zh)) [zh, en] = zh;
    const mode = lang();
    return mode === "zh" ? zh : mode === "en" ? en : `${zh} ${en}`;
  }

  function applyLang() {
    for (const opt of document.querySelectorAll("option[data-zh]")) opt.textContent = text(opt.dataset.zh, opt.dataset.en);
    for (const n of document.querySelectorAll("[data-ph-zh]")) n.placeholder = text(n.dataset.phZh, n.dataset.phEn);
    const labelEl = document.getElementById("lang-label");
    if (labelEl) labelEl.textContent = { both: "中 / EN", zh: "中文", en: "English" }[lang()];
    document.dispatchEvent(new CustomEvent("tw:lang"));
  }

  function setLang(mode) {
    const root = document.documentElement;
    for (const m of LANGS) root.classList.remove("lang-" + m);
    root.classList.add("lang-" + mode);
    document.cookie = `tw_lang=${mode}; path=/; max-age=31536000; samesite=lax`;
    applyLang();
  }

  // ----------------------------------------------------------------------------- formatting
  /** Seconds as "11.6 s", "4 min 05 s", "1 h 02 min": units both languages read. */
  function duration(s) {
    if (s === null || s === undefined || Number.isNaN(s)) return "–";
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, "0")} min`;
  }

  /** Records carry the site's UTC offset; show the site's wall clock, not the browser's. */
  function siteDate(iso) { return iso ? iso.slice(0, 10) : ""; }
  function siteTime(iso) { return iso ? iso.slice(11, 19) : ""; }
  function siteDateTime(iso) { return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : "–"; }

  function pct(n, d) { return d ? `${Math.round((100 * n) / d)}%` : "–"; }

  function addDays(isoDate, days) {
    const [y, m, d] = isoDate.split("-").map(Number);
    const t = new Date(Date.UTC(y, m - 1, d + days));
    return t.toISOString().slice(0, 10);
  }

  function toast(message, kind = "info", ms = 3500) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = el("div", { class: `toast ${kind}` });
    if (message instanceof Node) item.append(message); else item.textContent = message;
    box.append(item);
    setTimeout(() => item.classList.add("out"), ms);
    setTimeout(() => item.remove(), ms + 400);
  }

  /** A readable message from an API error (FastAPI's 422 lists are joined). */
  function errorText(err) {
    if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
    if (Array.isArray(err.detail)) return err.detail.map((e) => `${(e.loc || []).slice(1).join(" → ")}: ${e.msg}`).join("; ");
    return `${err.status}: ${err.detail}`;
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyLang();
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.addEventListener("click", () => setLang(LANGS[(LANGS.indexOf(lang()) + 1) % LANGS.length]));
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        try { await fetch(boot.api + "/auth/logout", { method: "POST", credentials: "same-origin" }); } finally {
          location.assign("/login");
        }
      });
    }
  });

  return { boot, api, ApiError, query, el, svg, label, bi, text, lang, duration, siteDate, siteTime, siteDateTime, pct, addDays, toast, errorText };
})();
