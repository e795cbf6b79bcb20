/* Branch head's summary of a day, an ISO week or a month: the counts (false positives apart),
 * an hour-by-hour chart, the worst incidents, the median time to review per rule, and the same
 * span a week (or a month) earlier for comparison. Built from GET /summaries/daily only. */
"use strict";

(() => {
  const { api, query, el, svg, bi, label, duration, siteDate, siteTime, pct, addDays, toast, errorText } = TW;
  const RULES = TW.boot.labels.order.rules;
  const $ = (id) => document.getElementById(id);
  const S = { date: "", site: "", period: "day", cur: null, prev: null, worst: [], token: 0 };
  const PERIODS = ["day", "week", "month"];

  // --------------------------------------------------------------------------- periods
  /** [zh, en] naming the span the page compares with. */
  function prevName() {
    if (S.period === "week") return ["上周", "Previous week"];
    if (S.period === "month") return ["上月", "Previous month"];
    return ["上周同日", "Week ago"];
  }

  function addMonths(iso, n) {
    const [y, m, d] = iso.split("-").map(Number);
    const first = new Date(Date.UTC(y, m - 1 + n, 1));
    const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
    first.setUTCDate(Math.min(d, last));
    return first.toISOString().slice(0, 10);
  }

  /** The date of the span to compare with, or to step to (dir -1 / +1). */
  function shift(iso, dir) {
    if (S.period === "month") return addMonths(iso, dir);
    return addDays(iso, dir * (S.period === "week" ? 7 : 1));
  }

  function comparedDate(iso) {
    return S.period === "month" ? addMonths(iso, -1) : addDays(iso, -7);
  }

  function median(seconds) {
    return seconds === null || seconds === undefined ? "–" : duration(seconds);
  }

  function showPeriod() {
    for (const b of $("s-period").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.period === S.period));
    const cur = S.cur;
    $("s-range").textContent = cur && cur.period !== "day" ? `${cur.start} – ${cur.end}` : "";
    $("th-prev").replaceChildren(bi(prevName()));
  }

  function bindPeriod() {
    $("s-period").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-period]");
      if (!b || b.dataset.period === S.period) return;
      S.period = b.dataset.period;
      load();
    });
  }

  const sum = (rows, key) => rows.reduce((a, r) => a + r[key], 0);

  function hourly(rows) {
    const h = new Array(24).fill(0);
    for (const r of rows) r.hourly.forEach((n, i) => { h[i] += n; });
    return h;
  }

  function ruleOrder(rows) {
    const extra = [...new Set(rows.map((r) => r.rule))].filter((r) => !RULES.includes(r)).sort();
    return [...RULES, ...extra];
  }

  function ruleClass(rule) {
    return RULES.includes(rule) ? `rule-${rule}` : "rule-other";
  }

  // --------------------------------------------------------------------------- week over week
  function delta(now, before, { fmt = String, lowerIsBetter = true } = {}) {
    const d = now - before;
    const span = el("span", { class: "delta" });
    if (Math.abs(d) < 1e-9) {
      span.classList.add("flat");
      span.append(bi(`与${prevName()[0]}持平`, `same as ${prevName()[1].toLowerCase()}`));
      return span;
    }
    const worse = lowerIsBetter ? d > 0 : d < 0;
    span.classList.add(worse ? "worse" : "better");
    const sign = d > 0 ? "▲ +" : "▼ −";
    span.append(`${sign}${fmt(Math.abs(d))}`, el("span", { class: "muted" }, " · ", bi(prevName()[0], prevName()[1].toLowerCase()), ` ${fmt(before)}`));
    return span;
  }

  // --------------------------------------------------------------------------- chart
  function niceStep(max) {
    if (max <= 4) return 1;
    const raw = max / 4;
    const mag = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return m * mag;
    return 10 * mag;
  }

  function drawChart() {
    const box = $("hourly");
    if (!S.cur) return;
    const rows = S.cur.rows;
    const order = ruleOrder(rows);
    const byRule = {};
    for (const rule of order) byRule[rule] = new Array(24).fill(0);
    for (const r of rows) r.hourly.forEach((n, i) => { byRule[r.rule][i] += n; });
    const totals = hourly(rows);
    const before = S.prev ? hourly(S.prev.rows) : new Array(24).fill(0);
    const W = Math.max(480, Math.round(box.clientWidth || 720));
    const H = 230;
    const m = { l: 34, r: 10, t: 18, b: 28 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const step = niceStep(Math.max(1, ...totals, ...before));
    const top = Math.max(step, Math.ceil(Math.max(1, ...totals, ...before) / step) * step);
    const y = (v) => m.t + ph - (v / top) * ph;
    const band = pw / 24;
    const bw = Math.min(22, band * 0.5);
    const pbw = Math.min(10, band * 0.22);

    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", height: H, class: "hour-chart", "aria-hidden": "true" });
    const grid = svg("g", { class: "grid" });
    for (let v = 0; v <= top; v += step) {
      grid.append(svg("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      grid.append(svg("text", { x: m.l - 6, y: y(v) + 3.5, "text-anchor": "end", class: "tick", text: String(v) }));
    }
    root.append(grid);
    const axis = svg("g", { class: "axis" });
    for (let h = 0; h < 24; h += 1) {
      const cx = m.l + band * h + band / 2;
      if (h % 2 === 0) axis.append(svg("text", { x: cx, y: H - 10, "text-anchor": "middle", class: "tick", text: String(h).padStart(2, "0") }));
    }
    axis.append(svg("text", { x: W - m.r, y: H - 10, "text-anchor": "end", class: "tick unit", text: "h" }));
    root.append(axis);

    const bars = svg("g", { class: "bars" });
    for (let h = 0; h < 24; h += 1) {
      const x = m.l + band * h + (band - bw - pbw - 2) / 2;
      const g = svg("g", { class: "bar", dataset: { hour: String(h), count: String(totals[h]), weekAgo: String(before[h]) } });
      if (before[h] > 0) g.append(svg("rect", { class: "prev-bar", x: x + bw + 2, width: pbw, y: y(before[h]), height: y(0) - y(before[h]) }));
      const parts = order.filter((r) => byRule[r][h] > 0).map((r) => `${TW.text(label("rules", r))}: ${byRule[r][h]}`);
      g.append(svg("title", { text: `${String(h).padStart(2, "0")}:00–${String(h + 1).padStart(2, "0")}:00 · ${totals[h]}${parts.length ? " (" + parts.join(", ") + ")" : ""} · ${TW.text(...prevName())} ${before[h]}` }));
      let acc = 0;
      for (const rule of order) {
        const n = byRule[rule][h];
        if (!n) continue;
        g.append(svg("rect", { class: `seg ${ruleClass(rule)}`, x, width: bw, y: y(acc + n), height: Math.max(0, y(acc) - y(acc + n)), dataset: { rule, n: String(n) } }));
        acc += n;
      }
      if (totals[h] > 0) g.append(svg("text", { class: "val", x: x + bw / 2, y: y(totals[h]) - 4, "text-anchor": "middle", text: String(totals[h]) }));
      bars.append(g);
    }
    root.append(bars);

    root.append(svg("line", { class: "baseline", x1: m.l, x2: W - m.r, y1: y(0), y2: y(0) }));
    box.replaceChildren(root);

    const legend = $("chart-legend");
    legend.replaceChildren(
      ...order.filter((r) => RULES.includes(r) || byRule[r].some(Boolean)).map((r) =>
        el("span", { class: "legend-item" }, el("i", { class: `swatch ${ruleClass(r)}` }), bi(label("rules", r)))),
      el("span", { class: "legend-item" }, el("i", { class: "swatch prev" }), bi(prevName())),
    );
  }

  /** Week and month: one bar per day, false positives stacked apart in grey on top. */
  function drawDays() {
    const box = $("by-day");
    const days = S.cur && S.cur.period !== "day" ? S.cur.days : [];
    box.hidden = !days.length;
    if (!days.length) return box.replaceChildren();
    const W = Math.max(480, Math.round(box.clientWidth || 720));
    const H = 120;
    const m = { l: 34, r: 10, t: 14, b: 22 };
    const top = Math.max(1, ...days.map((d) => d.count + d.false_positives));
    const y = (v) => m.t + (H - m.t - m.b) - (v / top) * (H - m.t - m.b);
    const band = (W - m.l - m.r) / days.length;
    const bw = Math.min(26, band * 0.6);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", height: H, class: "day-chart-svg", "aria-hidden": "true" });
    days.forEach((d, i) => {
      const x = m.l + band * i + (band - bw) / 2;
      const g = svg("g", { class: "day", dataset: { date: d.date, count: String(d.count), fp: String(d.false_positives) } });
      g.append(svg("title", { text: `${d.date} · ${d.count} · ${TW.text("误报", "false positives")} ${d.false_positives}` }));
      if (d.count) g.append(svg("rect", { class: "day-real", x, width: bw, y: y(d.count), height: y(0) - y(d.count) }));
      if (d.false_positives) g.append(svg("rect", { class: "day-fp", x, width: bw, y: y(d.count + d.false_positives), height: y(d.count) - y(d.count + d.false_positives) }));
      if (d.count) g.append(svg("text", { class: "val", x: x + bw / 2, y: y(d.count + d.false_positives) - 3, "text-anchor": "middle", text: String(d.count) }));
      const every = days.length > 10 ? 5 : 1;
      const dayNo = Number(d.date.slice(8));
      if (days.length <= 10 || dayNo === 1 || dayNo % every === 0) {
        g.append(svg("text", { class: "tick", x: x + bw / 2, y: H - 6, "text-anchor": "middle", text: days.length <= 10 ? d.date.slice(5) : String(dayNo) }));
      }
      root.append(g);
    });
    root.append(svg("line", { class: "baseline", x1: m.l, x2: W - m.r, y1: y(0), y2: y(0) }));
    root.append(svg("text", { class: "tick", x: 0, y: 10, text: TW.text("按日 · 灰色为误报", "By day · grey: false positives") }));
    box.replaceChildren(root);
  }

  // --------------------------------------------------------------------------- tables and cards
  function renderKpis() {
    const rows = S.cur.rows;
    const prevRows = S.prev ? S.prev.rows : [];
    const total = S.cur.total;
    const prevTotal = S.prev ? S.prev.total : 0;
    $("k-total").textContent = String(total);
    $("k-total-wow").replaceChildren(delta(total, prevTotal));
    const dur = sum(rows, "total_duration_s");
    $("k-duration").textContent = duration(dur);
    $("k-duration-wow").replaceChildren(delta(dur, sum(prevRows, "total_duration_s"), { fmt: duration }));
    let longest = null;
    for (const r of rows) if (!longest || r.longest_duration_s > longest.longest_duration_s) longest = r;
    $("k-longest").textContent = longest ? duration(longest.longest_duration_s) : "–";
    $("k-longest-where").replaceChildren(longest ? el("span", {}, `${longest.camera} · `, bi(label("rules", longest.rule))) : "");
    $("k-open").textContent = String(sum(rows, "open"));
    // total leaves false positives out; they are shown apart, as a count and a share of the reviews
    const fp = S.cur.false_positives;
    const alerts = total + fp;
    const reviewed = sum(rows, "reviewed") + fp;
    $("k-reviewed").textContent = pct(reviewed, alerts);
    $("k-reviewed-n").textContent = `${reviewed} / ${alerts}`;
    $("k-reviewed-bar").style.width = alerts ? `${(100 * reviewed) / alerts}%` : "0";
    $("k-fp").textContent = String(fp);
    $("k-fp-n").replaceChildren(bi(`占已复核 ${pct(fp, reviewed)}`, `${pct(fp, reviewed)} of reviewed`));
    $("k-fp-bar").style.width = reviewed ? `${(100 * fp) / reviewed}%` : "0";
  }

  function num(text, cls = "num") {
    return el("td", { class: cls }, text);
  }

  function renderByRule() {
    const rows = S.cur.rows;
    const prevRows = S.prev ? S.prev.rows : [];
    const body = $("by-rule").tBodies[0];
    body.replaceChildren(
      ...ruleOrder(rows).filter((rule) => RULES.includes(rule) || rows.some((r) => r.rule === rule)).map((rule) => {
        const mine = rows.filter((r) => r.rule === rule);
        const before = prevRows.filter((r) => r.rule === rule);
        const n = sum(mine, "count");
        const b = sum(before, "count");
        const longest = mine.reduce((a, r) => Math.max(a, r.longest_duration_s), 0);
        const trend = n > b ? "worse" : n < b ? "better" : "flat";
        const stats = (S.cur.by_rule || []).find((x) => x.rule === rule) || { false_positives: 0, median_review_s: null };
        return el(
          "tr",
          { dataset: { rule, count: String(n) } },
          el("td", { class: "label-cell" }, el("i", { class: `swatch ${ruleClass(rule)}` }), bi(label("rules", rule))),
          num(String(n), "num strong"),
          el("td", { class: `num ${trend}` }, String(b), n !== b ? el("span", { class: "arrow", text: n > b ? " ▲" : " ▼" }) : ""),
          el("td", { class: "num fp-cell", dataset: { fp: String(stats.false_positives) } }, String(stats.false_positives)),
          num(n ? duration(longest) : "–"),
          el("td", { class: "num median-cell", dataset: { median: String(stats.median_review_s ?? "") } }, median(stats.median_review_s)),
        );
      }),
    );
    const then = S.prev ? (S.period === "day" ? S.prev.date : `${S.prev.start} – ${S.prev.end}`) : comparedDate(S.cur.date);
    $("wow-note").replaceChildren(bi(`${prevName()[0]} ${then}`, `${prevName()[1].toLowerCase()}: ${then}`));
  }

  function miniBar(counts, order) {
    const total = order.reduce((a, r) => a + (counts[r] || 0), 0) || 1;
    const root = svg("svg", { class: "mini-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", width: "100%", height: "10" });
    let x = 0;
    for (const rule of order) {
      const n = counts[rule] || 0;
      if (!n) continue;
      const w = (100 * n) / total;
      root.append(svg("rect", { class: `seg ${ruleClass(rule)}`, x, y: 0, width: w, height: 10 }, svg("title", { text: `${TW.text(label("rules", rule))}: ${n}` })));
      x += w;
    }
    return root;
  }

  function renderByCamera() {
    const rows = S.cur.rows;
    const order = ruleOrder(rows);
    const cams = new Map();
    for (const r of rows) {
      const key = `${r.site}/${r.camera}`;
      const c = cams.get(key) || { site: r.site, camera: r.camera, count: 0, total: 0, longest: 0, reviewed: 0, rules: {} };
      c.count += r.count;
      c.total += r.total_duration_s;
      c.longest = Math.max(c.longest, r.longest_duration_s);
      c.reviewed += r.reviewed;
      c.rules[r.rule] = (c.rules[r.rule] || 0) + r.count;
      cams.set(key, c);
    }
    const multiSite = new Set([...cams.values()].map((c) => c.site)).size > 1;
    const body = $("by-camera").tBodies[0];
    const sorted = [...cams.values()].sort((a, b) => b.count - a.count || a.camera.localeCompare(b.camera));
    body.replaceChildren(
      ...sorted.map((c) =>
        el(
          "tr",
          { dataset: { camera: c.camera, site: c.site, count: String(c.count) } },
          el("td", {}, multiSite ? el("span", { class: "muted", text: `${c.site} / ` }) : "", c.camera),
          num(String(c.count), "num strong"),
          el("td", { class: "bar-cell" }, miniBar(c.rules, order)),
          num(duration(c.total)),
          num(duration(c.longest)),
          num(`${c.reviewed}/${c.count}`),
        ),
      ),
    );
    if (!sorted.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "empty" }, bi("当日无违规", "No violations that day"))));
  }

  function renderWorst() {
    const list = $("worst");
    list.replaceChildren(
      ...S.worst.map((v) =>
        el(
          "li",
          { dataset: { id: v.id } },
          el(
            "a",
            { href: "/review" + query({ id: v.id }), class: "worst-link" },
            v.snapshot_url
              ? el("img", { class: "thumb", src: v.snapshot_url, alt: `${v.camera} ${siteTime(v.started_at)}`, loading: "eager" })
              : el("span", { class: "thumb none" }, bi("无快照", "No snapshot")),
            el(
              "span",
              { class: "worst-text" },
              el("span", { class: "worst-rule" }, el("i", { class: `swatch ${ruleClass(v.rule)}` }), bi(label("rules", v.rule))),
              el("span", { class: "worst-meta", text: `${siteTime(v.started_at)} · ${v.camera} · ${v.zone}` }),
              el("span", { class: `badge rv-${v.review_status}` }, bi(label("review", v.review_status))),
            ),
            el("span", { class: "worst-dur", text: duration(v.duration_s) }),
          ),
        ),
      ),
    );
    $("worst-empty").hidden = S.worst.length > 0;
  }

  function render() {
    renderKpis();
    drawChart();
    drawDays();
    renderByRule();
    renderByCamera();
    renderWorst();
    const who = TW.boot.user;
    const site = S.site || who.site || TW.text("全部网点", "all sites");
    $("print-meta").textContent = `${site} · ${S.cur.period === "day" ? S.cur.date : `${S.cur.start} – ${S.cur.end}`}`;
    showPeriod();
    $("print-foot").textContent = `TellerWatch · ${TW.text("生成", "generated")} ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · ${who.username}`;
    document.body.dataset.ready = "1";
  }

  // --------------------------------------------------------------------------- loading
  async function load() {
    const token = ++S.token;
    document.body.dataset.ready = "0";
    $("s-error").hidden = true;
    try {
      const cur = await api("/summaries/daily" + query({ date: S.date, site: S.site, period: S.period }));
      const [prev, worst] = await Promise.all([
        api("/summaries/daily" + query({ date: comparedDate(cur.date), site: S.site, period: S.period })),
        api("/violations" + query({ date_from: cur.start, date_to: cur.end, site: S.site, sort: "-duration_s", limit: 5 })),
      ]);
      if (token !== S.token) return;
      S.cur = cur;
      S.prev = prev;
      S.worst = worst.items;
      S.date = cur.date;
      $("s-date").value = cur.date;
      const period = S.period === "day" ? "" : S.period;
      $("s-csv").href = `${TW.boot.api}/summaries/daily` + query({ date: cur.date, site: S.site, period, format: "csv" });
      history.replaceState(null, "", "/summary" + query({ date: cur.date, period, site: S.site }));
      render();
    } catch (err) {
      if (token !== S.token) return;
      $("s-error").textContent = errorText(err);
      $("s-error").hidden = false;
      toast(errorText(err), "error");
    }
  }

  async function loadSites() {
    const select = $("s-site");
    if (!select) return;
    try {
      const cams = await api("/cameras");
      for (const site of [...new Set(cams.map((c) => c.site))].sort()) select.append(el("option", { value: site, text: site }));
    } catch (err) {
      /* the summary still works for all sites */
    }
    if (S.site && ![...select.options].some((o) => o.value === S.site)) select.append(el("option", { value: S.site, text: S.site }));
    select.value = S.site;
    select.addEventListener("change", () => { S.site = select.value; load(); });
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const q = new URLSearchParams(location.search);
    S.date = q.get("date") || "";
    S.period = PERIODS.includes(q.get("period")) ? q.get("period") : "day";
    bindPeriod();
    S.site = TW.boot.user.role === "branch_head" ? "" : q.get("site") || "";
    $("s-date").addEventListener("change", (ev) => { if (ev.target.value) { S.date = ev.target.value; load(); } });
    $("s-prev").addEventListener("click", () => { if (S.date) { S.date = shift(S.date, -1); load(); } });
    $("s-next").addEventListener("click", () => { if (S.date) { S.date = shift(S.date, 1); load(); } });
    $("s-print").addEventListener("click", () => window.print());
    let resizeTimer = 0;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { drawChart(); drawDays(); }, 150); });
    window.addEventListener("beforeprint", drawChart);
    // printing (or saving as PDF) is an export: the audit trail records it
    window.addEventListener("beforeprint", () => {
      TW.api("/audit/print", { method: "POST", body: { page: "summary", site: S.site || null, date: S.date || null } }).catch(() => {});
    });
    document.addEventListener("tw:lang", () => { if (S.cur) render(); });
    await loadSites();
    await load();
  });
})();
