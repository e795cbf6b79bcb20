/* Engineer's zone editor: polygons over the camera's latest frame; drag, add and delete points,
 * add and delete zones, set their kind, and save them back (validated by the API with the same
 * ZoneConfig model as the config file). Coordinates are kept normalised to [0, 1]. */
"use strict";

(() => {
  const { api, query, el, svg, bi, label, toast, errorText } = TW;
  const KINDS = TW.boot.labels.order.kinds;
  const $ = (id) => document.getElementById(id);
  const canvas = $("z-svg");
  const stage = $("stage");
  const POLL_MS = 4000;

  const Z = {
    cameras: [],
    cam: null,
    zones: [],
    saved: "[]",
    etag: null,
    meta: null,
    live: {},
    sel: -1,
    selPoint: -1,
    W: 1280,
    H: 720,
    frame: null,
    history: [],
    errors: {},
    general: null,
    drag: null,
    remoteVersion: null,
  };

  const round = (v) => Math.round(v * 10000) / 10000;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

  // --------------------------------------------------------------------------- model
  function fromApi(zones) {
    return zones.map((z) => {
      const { name, kind, polygon, ...rest } = z;
      return { name, kind: kind || "generic", polygon: polygon.map(([x, y]) => [x, y]), rest };
    });
  }

  function toApi() {
    return Z.zones.map((z) => {
      const out = { ...z.rest, name: z.name, kind: z.kind, polygon: z.polygon.map(([x, y]) => [round(x), round(y)]) };
      for (const [k, v] of Object.entries(out)) if (v === null) delete out[k];
      return out;
    });
  }

  const dirty = () => JSON.stringify(toApi()) !== Z.saved;

  function remember() {
    Z.history.push(JSON.stringify(Z.zones));
    if (Z.history.length > 100) Z.history.shift();
  }

  function undo() {
    const last = Z.history.pop();
    if (!last) return;
    Z.zones = JSON.parse(last);
    if (Z.sel >= Z.zones.length) Z.sel = Z.zones.length - 1;
    Z.selPoint = -1;
    changed(true);
  }

  function changed(structure = false) {
    if (structure) renderList();
    else refreshListLight();
    draw();
    const d = dirty();
    $("z-dirty").hidden = !d;
    $("z-save").disabled = !d;
    $("z-revert").disabled = !d;
    document.body.dataset.dirty = d ? "1" : "0";
  }

  // --------------------------------------------------------------------------- drawing
  function fit() {
    const box = stage.getBoundingClientRect();
    const pad = 16;
    const scale = Math.max(0.05, Math.min((box.width - pad) / Z.W, (box.height - pad) / Z.H));
    canvas.style.width = `${Math.floor(Z.W * scale)}px`;
    canvas.style.height = `${Math.floor(Z.H * scale)}px`;
    Z.unit = 1 / scale;
  }

  function liveText(name) {
    const c = Z.live[name];
    if (!c) return null;
    const mode = TW.lang();
    if (mode === "zh") return `${c.persons} 人 · ${c.staff} 员工` + (c.items ? ` · ${c.items} 物品` : "");
    if (mode === "en") return `${c.persons} persons · ${c.staff} staff` + (c.items ? ` · ${c.items} items` : "");
    return `${c.persons} 人 persons · ${c.staff} 员工 staff` + (c.items ? ` · ${c.items} 物品 items` : "");
  }

  function draw() {
    const u = Z.unit || 1;
    canvas.setAttribute("viewBox", `0 0 ${Z.W} ${Z.H}`);
    const nodes = [];
    if (Z.frame) {
      nodes.push(svg("image", { href: Z.frame, x: 0, y: 0, width: Z.W, height: Z.H, preserveAspectRatio: "none", class: "frame" }));
    } else {
      nodes.push(svg("rect", { class: "no-frame", x: 0, y: 0, width: Z.W, height: Z.H }));
      nodes.push(svg("text", { class: "no-frame-text", x: Z.W / 2, y: Z.H / 2, "text-anchor": "middle", "font-size": 22 * u, text: TW.text("暂无画面：分析程序尚未上传图像", "No frame yet: no pipeline has uploaded one") }));
    }
    Z.zones.forEach((z, i) => {
      const pts = z.polygon.map(([x, y]) => [x * Z.W, y * Z.H]);
      const classes = ["zone", `kind-${KINDS.includes(z.kind) ? z.kind : "generic"}`];
      if (i === Z.sel) classes.push("selected");
      if (Z.errors[i]) classes.push("invalid");
      const g = svg("g", { class: classes.join(" "), dataset: { zone: String(i), name: z.name } });
      g.append(svg("polygon", { class: "area", points: pts.map((p) => p.join(",")).join(" "), "stroke-width": 2 * u, dataset: { zone: String(i) } }));
      nodes.push(g);
    });
    const labels = Z.zones.map((z, i) => {
      const kind = KINDS.includes(z.kind) ? z.kind : "generic";
      const g = svg("g", { class: `zone-label kind-${kind}`, dataset: { zone: String(i) } });
      const counts = liveText(z.name);
      g.append(svg("rect", { class: "bg", rx: 3 * u }), svg("rect", { class: "chip", rx: 1.5 * u }));
      g.append(svg("text", { class: "name", "font-size": 13 * u, text: z.name || "?" }));
      if (counts) g.append(svg("text", { class: "counts", "font-size": 11.5 * u, text: counts }));
      // the point of each person's box this zone tests (the zone's anchor, else its kind's default)
      const anchor = (z.rest && z.rest.anchor) || (TW.boot.labels.kind_anchor[kind] || ["bottom_center"])[0];
      const [zh, en] = TW.boot.labels.anchors[anchor] || [anchor, anchor];
      g.append(svg("text", { class: "anchor", "font-size": 11 * u, text: "⊙ " + TW.text(zh, en), dataset: { anchor } }));
      return g;
    });
    const z = Z.zones[Z.sel];
    if (z) {
      const pts = z.polygon.map(([x, y]) => [x * Z.W, y * Z.H]);
      const edges = svg("g", { class: "edges" });
      pts.forEach((a, j) => {
        const b = pts[(j + 1) % pts.length];
        edges.append(svg("line", { class: "edge", x1: a[0], y1: a[1], x2: b[0], y2: b[1], "stroke-width": 12 * u, dataset: { zone: String(Z.sel), edge: String(j) } }));
      });
      nodes.push(edges);
      const handles = svg("g", { class: "handles" });
      pts.forEach((p, j) => {
        handles.append(svg("circle", { class: `handle${j === Z.selPoint ? " active" : ""}`, cx: p[0], cy: p[1], r: (j === Z.selPoint ? 8 : 6.5) * u, "stroke-width": 2 * u, dataset: { zone: String(Z.sel), point: String(j) } }));
      });
      nodes.push(handles);
    }
    // labels after every polygon (no zone hides another's name), below the handles
    const handleLayer = nodes.findIndex((n) => n.getAttribute && n.getAttribute("class") === "edges");
    nodes.splice(handleLayer < 0 ? nodes.length : handleLayer, 0, ...labels);
    canvas.replaceChildren(...nodes);
    labels.forEach((g, i) => placeLabel(g, Z.zones[i], u));
  }

  /** Sized from the rendered text (CJK and Latin widths differ), kept inside the frame. */
  function placeLabel(g, z, u) {
    const pts = z.polygon.map(([x, y]) => [x * Z.W, y * Z.H]);
    const anchor = pts.reduce((a, p) => (p[1] < a[1] || (p[1] === a[1] && p[0] < a[0]) ? p : a), pts[0]);
    const texts = [...g.querySelectorAll("text")];
    const widths = texts.map((t) => t.getComputedTextLength());
    const w = Math.max(...widths) + 22 * u;
    const h = (texts.length * 16 + 7) * u;
    const x = clamp(anchor[0] + 6 * u, 2 * u, Z.W - w - 2 * u);
    const y = clamp(anchor[1] + 6 * u, 2 * u, Z.H - h - 2 * u);
    const [bg, chip] = g.querySelectorAll("rect");
    bg.setAttribute("x", x); bg.setAttribute("y", y); bg.setAttribute("width", w); bg.setAttribute("height", h);
    chip.setAttribute("x", x + 6 * u); chip.setAttribute("y", y + 7 * u); chip.setAttribute("width", 5 * u); chip.setAttribute("height", 9 * u);
    texts.forEach((t, k) => { t.setAttribute("x", x + 15 * u); t.setAttribute("y", y + (15 + 16 * k) * u); });
  }

  // --------------------------------------------------------------------------- side panel
  function kindSelect(z) {
    const select = el("select", { class: "zi-kind", "aria-label": "区域类型 Zone kind" });
    select.append(...$("kind-options").content.cloneNode(true).childNodes);
    for (const opt of select.options) opt.textContent = TW.text(opt.dataset.zh, opt.dataset.en);
    if (!KINDS.includes(z.kind)) select.append(el("option", { value: z.kind, text: z.kind }));
    select.value = z.kind;
    return select;
  }

  function liveLine(name) {
    const c = Z.live[name];
    if (!c) return el("span", { class: "muted" }, bi("暂无实时数据", "no live counts"));
    return el(
      "span",
      { class: "live-counts" },
      el("b", { text: String(c.persons) }), " ", bi("人员", "persons"), " · ",
      el("b", { text: String(c.staff) }), " ", bi("员工", "staff"), " · ",
      el("b", { text: String(c.items) }), " ", bi("物品", "items"),
    );
  }

  function renderList() {
    const list = $("z-list");
    list.replaceChildren(
      ...Z.zones.map((z, i) => {
        const name = el("input", { class: "zi-name", value: z.name, maxlength: "64", spellcheck: "false", "aria-label": "区域名称 Zone name" });
        name.addEventListener("focus", () => { remember(); selectZone(i, false); });
        name.addEventListener("input", () => { z.name = name.value; changed(false); });
        const kind = kindSelect(z);
        kind.addEventListener("change", () => { remember(); z.kind = kind.value; changed(true); });
        const del = el("button", { type: "button", class: "icon-btn zi-del", title: "删除区域 Delete zone", "aria-label": "删除区域 Delete zone" });
        del.innerHTML = '<svg class="icon" aria-hidden="true" viewBox="0 0 24 24"><use href="/static/icons.svg#trash"></use></svg>';
        del.addEventListener("click", (ev) => { ev.stopPropagation(); deleteZone(i); });
        const item = el(
          "li",
          { class: `zone-item kind-${KINDS.includes(z.kind) ? z.kind : "generic"}${i === Z.sel ? " selected" : ""}${Z.errors[i] ? " invalid" : ""}`, dataset: { index: String(i), name: z.name } },
          el("div", { class: "zi-head" }, el("i", { class: `swatch kind-${KINDS.includes(z.kind) ? z.kind : "generic"}` }), name, del),
          el("div", { class: "zi-row" }, kind, el("span", { class: "zi-points muted small" }, `${z.polygon.length} `, bi("个顶点", "points"))),
          el("div", { class: "zi-live small" }, liveLine(z.name)),
          Z.errors[i] ? el("p", { class: "zi-error", text: Z.errors[i] }) : null,
        );
        item.addEventListener("click", (ev) => { if (ev.target === item || ev.target.closest(".zi-live, .zi-head > i")) selectZone(i); });
        return item;
      }),
    );
    if (!Z.zones.length) list.append(el("li", { class: "empty" }, bi("尚无区域：点击「添加区域」", "No zones yet: use Add zone")));
    const err = $("z-error");
    err.hidden = !Z.general;
    if (Z.general) err.replaceChildren(Z.general instanceof Node ? Z.general.cloneNode(true) : Z.general);
  }

  function refreshListLight() {
    // while a name is being typed the inputs must stay; only counts and classes change
    for (const item of $("z-list").querySelectorAll(".zone-item")) {
      const i = Number(item.dataset.index);
      const z = Z.zones[i];
      if (!z) continue;
      item.classList.toggle("selected", i === Z.sel);
      item.dataset.name = z.name;
      const pts = item.querySelector(".zi-points");
      if (pts) pts.replaceChildren(`${z.polygon.length} `, bi("个顶点", "points"));
      item.querySelector(".zi-live").replaceChildren(liveLine(z.name));
    }
  }

  function versionLine() {
    const m = Z.meta;
    if (!m) return;
    const parts = [el("b", { text: `v${m.version}` })];
    if (m.updated_by) parts.push(` · ${m.updated_by} · ${(m.updated_at || "").slice(0, 16).replace("T", " ")} UTC`);
    parts.push(el("br"));
    if (m.applied_version === null || m.applied_version === undefined) {
      parts.push(el("span", { class: "muted" }, bi("分析程序尚未报告所用版本", "no pipeline has reported its version")));
    } else if (m.applied_version === m.version) {
      parts.push(el("span", { class: "ok-text" }, "✓ ", bi("分析程序已生效", "pipeline running it")));
    } else {
      parts.push(el("span", { class: "warn-text" }, bi(`分析程序仍在运行 v${m.applied_version}，将自动加载`, `pipeline runs v${m.applied_version}, will pick it up`)));
    }
    $("z-version").replaceChildren(...parts);
  }

  // --------------------------------------------------------------------------- editing
  function selectZone(i, redrawList = true) {
    if (Z.sel !== i) Z.selPoint = -1;
    Z.sel = i;
    if (redrawList) refreshListLight();
    draw();
  }

  function uniqueName(base) {
    const names = new Set(Z.zones.map((z) => z.name));
    for (let n = 1; ; n += 1) if (!names.has(`${base}_${n}`)) return `${base}_${n}`;
  }

  function addZone() {
    remember();
    const k = Z.zones.length % 5;
    const o = 0.06 * k;
    Z.zones.push({ name: uniqueName("zone"), kind: "generic", polygon: [[0.3 + o, 0.3 + o], [0.55 + o, 0.3 + o], [0.55 + o, 0.55 + o], [0.3 + o, 0.55 + o]], rest: {} });
    Z.sel = Z.zones.length - 1;
    Z.selPoint = -1;
    changed(true);
    const input = $("z-list").querySelector(`.zone-item[data-index="${Z.sel}"] .zi-name`);
    if (input) input.select();
  }

  function deleteZone(i) {
    const z = Z.zones[i];
    if (!z) return;
    remember();
    Z.zones.splice(i, 1);
    delete Z.errors[i];
    Z.sel = Math.min(Z.sel, Z.zones.length - 1);
    Z.selPoint = -1;
    changed(true);
    toast(TW.bi(`已删除区域 ${z.name}（Ctrl+Z 撤销）`, `Deleted zone ${z.name} (Ctrl+Z undoes)`), "info");
  }

  function deletePoint(zi, pi) {
    const z = Z.zones[zi];
    if (!z) return;
    if (z.polygon.length <= 3) {
      toast(TW.bi("多边形至少需要 3 个顶点", "A polygon needs at least 3 points"), "error");
      return;
    }
    remember();
    z.polygon.splice(pi, 1);
    Z.selPoint = -1;
    changed(false);
  }

  function toSvg(ev) {
    const pt = canvas.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    const p = pt.matrixTransform(canvas.getScreenCTM().inverse());
    return [clamp(p.x, 0, Z.W), clamp(p.y, 0, Z.H)];
  }

  function onPointerDown(ev) {
    if (ev.button !== 0) return;
    const t = ev.target;
    const d = t.dataset || {};
    const p = toSvg(ev);
    if (d.point !== undefined) {
      Z.sel = Number(d.zone);
      Z.selPoint = Number(d.point);
      Z.drag = { kind: "point", zone: Z.sel, point: Z.selPoint, moved: false, snapshot: JSON.stringify(Z.zones) };
    } else if (d.edge !== undefined) {
      const zi = Number(d.zone);
      const j = Number(d.edge);
      const z = Z.zones[zi];
      const a = [z.polygon[j][0] * Z.W, z.polygon[j][1] * Z.H];
      const b = [z.polygon[(j + 1) % z.polygon.length][0] * Z.W, z.polygon[(j + 1) % z.polygon.length][1] * Z.H];
      const dx = b[0] - a[0];
      const dy = b[1] - a[1];
      const len2 = dx * dx + dy * dy || 1;
      const s = clamp(((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2, 0, 1);
      remember();
      z.polygon.splice(j + 1, 0, [(a[0] + s * dx) / Z.W, (a[1] + s * dy) / Z.H]);
      Z.sel = zi;
      Z.selPoint = j + 1;
      Z.drag = { kind: "point", zone: zi, point: j + 1, moved: true, snapshot: null };
      changed(false);
    } else if (d.zone !== undefined && t.classList.contains("area")) {
      const zi = Number(d.zone);
      if (Z.sel !== zi) Z.selPoint = -1;
      Z.sel = zi;
      Z.drag = { kind: "zone", zone: zi, origin: p, orig: Z.zones[zi].polygon.map((q) => [...q]), moved: false, snapshot: JSON.stringify(Z.zones) };
      refreshListLight();
    } else {
      Z.selPoint = -1;
      Z.drag = null;
      draw();
      return;
    }
    canvas.setPointerCapture(ev.pointerId);
    canvas.focus({ preventScroll: true });
    ev.preventDefault();
    draw();
  }

  function onPointerMove(ev) {
    const drag = Z.drag;
    if (!drag) return;
    const p = toSvg(ev);
    const z = Z.zones[drag.zone];
    if (!z) return;
    if (!drag.moved && drag.snapshot) {
      Z.history.push(drag.snapshot);
      drag.moved = true;
    }
    if (drag.kind === "point") {
      z.polygon[drag.point] = [p[0] / Z.W, p[1] / Z.H];
    } else {
      const xs = drag.orig.map((q) => q[0]);
      const ys = drag.orig.map((q) => q[1]);
      const dx = clamp((p[0] - drag.origin[0]) / Z.W, -Math.min(...xs), 1 - Math.max(...xs));
      const dy = clamp((p[1] - drag.origin[1]) / Z.H, -Math.min(...ys), 1 - Math.max(...ys));
      z.polygon = drag.orig.map(([x, y]) => [x + dx, y + dy]);
    }
    draw();
  }

  function onPointerUp(ev) {
    if (!Z.drag) return;
    const moved = Z.drag.moved;
    Z.drag = null;
    if (canvas.hasPointerCapture(ev.pointerId)) canvas.releasePointerCapture(ev.pointerId);
    changed(false);
    if (moved) document.body.dataset.edits = String(Number(document.body.dataset.edits || 0) + 1);
  }

  function onContextMenu(ev) {
    const d = ev.target.dataset || {};
    if (d.point === undefined) return;
    ev.preventDefault();
    deletePoint(Number(d.zone), Number(d.point));
  }

  function onKey(ev) {
    const t = ev.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z" && !typing) {
      ev.preventDefault();
      undo();
      return;
    }
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") {
      ev.preventDefault();
      if (dirty()) save();
      return;
    }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const z = Z.zones[Z.sel];
    if (!z) return;
    if ((ev.key === "Delete" || ev.key === "Backspace") && Z.selPoint >= 0) {
      ev.preventDefault();
      deletePoint(Z.sel, Z.selPoint);
    } else if (ev.key === "Escape") {
      Z.selPoint = -1;
      draw();
    } else if (ev.key.startsWith("Arrow") && Z.selPoint >= 0) {
      ev.preventDefault();
      const step = (ev.shiftKey ? 10 : 1);
      const [dx, dy] = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
      remember();
      const [x, y] = z.polygon[Z.selPoint];
      z.polygon[Z.selPoint] = [clamp(x + dx / Z.W, 0, 1), clamp(y + dy / Z.H, 0, 1)];
      changed(false);
    }
  }

  // --------------------------------------------------------------------------- server
  function camQuery() {
    return query({ site: Z.cam.site });
  }

  function camPath(suffix) {
    return `/cameras/${encodeURIComponent(Z.cam.camera)}/${suffix}${camQuery()}`;
  }

  async function fetchZones() {
    const res = await api(camPath("zones"), { raw: true });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new TW.ApiError(res.status, data && data.detail);
    return { data, etag: res.headers.get("ETag") };
  }

  function applyServer(data, etag) {
    Z.zones = fromApi(data.zones || []);
    Z.saved = JSON.stringify(toApi());
    Z.etag = etag;
    Z.meta = data;
    Z.live = data.live || {};
    Z.remoteVersion = data.version;
    Z.history = [];
    Z.errors = {};
    Z.general = null;
    if (Z.sel >= Z.zones.length || Z.sel < 0) Z.sel = Z.zones.length ? 0 : -1;
    Z.selPoint = -1;
    versionLine();
    changed(true);
  }

  /** The camera's latest uploaded frame, fetched only when the API says one exists (``frame_at``):
   * asking for a frame that is not there would log a 404 on every refresh. Keeps the old picture
   * (and resolves false) if a newer one fails to load. */
  function loadFrame(frameAt) {
    if (!frameAt) {
      Z.frame = null;
      Z.frameAt = null;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const url = `${TW.boot.api}${camPath("snapshot")}${camQuery() ? "&" : "?"}t=${encodeURIComponent(frameAt)}`;
      const img = new Image();
      img.onload = () => {
        Z.W = img.naturalWidth || 1280;
        Z.H = img.naturalHeight || 720;
        Z.frame = url;
        Z.frameAt = frameAt;
        resolve(true);
      };
      img.onerror = () => resolve(false);
      img.src = url;
    });
  }

  function clock(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour12: false });
  }

  function frameInfo() {
    const info = $("z-frame-info");
    if (!Z.frame) {
      info.replaceChildren(bi("暂无画面：分析程序尚未上传图像", "no frame yet: no pipeline has uploaded one"));
      return;
    }
    const parts = [bi("实时画面", "live frame"), ` ${Z.W}×${Z.H} · `, el("time", { datetime: Z.frameAt, class: "frame-at", text: clock(Z.frameAt) })];
    const liveAt = Z.meta && Z.meta.live_at;
    if (liveAt) parts.push(" · ", bi("计数", "counts"), " ", el("time", { datetime: liveAt, class: "live-at", text: clock(liveAt) }));
    info.replaceChildren(el("span", {}, ...parts));
  }

  async function openCamera(cam) {
    Z.cam = cam;
    Z.sel = 0;
    Z.W = 1280;
    Z.H = 720;
    history.replaceState(null, "", "/zones" + query({ site: cam.site, camera: cam.camera }));
    document.body.dataset.ready = "0";
    try {
      const { data, etag } = await fetchZones();
      await loadFrame(data.frame_at);
      fit();
      applyServer(data, etag);
      frameInfo();
    } catch (err) {
      Z.general = errorText(err);
      renderList();
    }
    document.body.dataset.ready = "1";
  }

  function showErrors(err) {
    Z.errors = {};
    Z.general = null;
    if (err instanceof TW.ApiError && err.status === 422 && Array.isArray(err.detail)) {
      const general = [];
      for (const e of err.detail) {
        const loc = e.loc || [];
        const msg = String(e.msg || "").replace(/^Value error, /, "");
        if (loc[1] === "zones" && typeof loc[2] === "number") {
          const field = loc.slice(3).join(" → ");
          Z.errors[loc[2]] = (Z.errors[loc[2]] ? Z.errors[loc[2]] + "; " : "") + (field ? `${field}: ${msg}` : msg);
        } else general.push(msg);
      }
      if (general.length) Z.general = general.join("; ");
      if (!general.length) Z.general = TW.bi("有区域未通过校验，见下方标红项", "Some zones are invalid; see the ones marked in red");
    } else if (err instanceof TW.ApiError && err.status === 412) {
      const wrap = el("span", {}, String(err.detail), " ");
      wrap.append(el("button", { type: "button", class: "link-btn", dataset: { action: "reload" } }, bi("重新加载", "Reload")));
      Z.general = wrap;
    } else {
      Z.general = errorText(err);
    }
    changed(true);
  }

  async function save() {
    $("z-save").disabled = true;
    try {
      const headers = Z.etag ? { "If-Match": Z.etag } : {};
      const res = await api(camPath("zones"), { method: "PUT", body: { zones: toApi() }, headers, raw: true });
      const data = await res.json().catch(() => null);
      if (!res.ok) throw new TW.ApiError(res.status, data && data.detail);
      const keepSel = Z.sel;
      applyServer(data, res.headers.get("ETag"));
      Z.sel = Math.min(keepSel, Z.zones.length - 1);
      draw();
      toast(TW.bi(`已保存（版本 ${data.version}）`, `Saved (version ${data.version})`), "ok");
      document.body.dataset.saved = String(data.version);
    } catch (err) {
      showErrors(err);
      $("z-save").disabled = !dirty();
    }
  }

  async function poll() {
    if (!Z.cam || document.hidden || Z.drag) return;
    try {
      const { data, etag } = await fetchZones();
      Z.live = data.live || {};
      if (data.version !== Z.remoteVersion) {
        if (!dirty()) {
          applyServer(data, etag);
          toast(TW.bi(`区域已被 ${data.updated_by || "?"} 更新`, `Zones were updated by ${data.updated_by || "?"}`), "info");
          return;
        }
        Z.remoteVersion = data.version;
        Z.general = TW.bi(`${data.updated_by || "?"} 已保存了新版本 v${data.version}；保存前请先重新加载`, `${data.updated_by || "?"} saved version ${data.version}; reload before saving`);
        renderList();
      }
      Z.meta = { ...Z.meta, applied_version: data.applied_version, live_at: data.live_at };
      if (data.frame_at && data.frame_at !== Z.frameAt) {
        const size = `${Z.W}x${Z.H}`;
        if ((await loadFrame(data.frame_at)) && size !== `${Z.W}x${Z.H}`) fit();
      }
      frameInfo();
      versionLine();
      refreshListLight();
      draw();
    } catch (err) {
      /* transient: the next poll tries again */
    }
  }

  // --------------------------------------------------------------------------- start
  document.addEventListener("DOMContentLoaded", async () => {
    canvas.addEventListener("pointerdown", onPointerDown);
    canvas.addEventListener("pointermove", onPointerMove);
    canvas.addEventListener("pointerup", onPointerUp);
    canvas.addEventListener("pointercancel", onPointerUp);
    canvas.addEventListener("contextmenu", onContextMenu);
    document.addEventListener("keydown", onKey);
    $("z-add").addEventListener("click", addZone);
    $("z-error").addEventListener("click", (ev) => { if (ev.target.closest("[data-action=reload]")) openCamera(Z.cam); });
    $("z-save").addEventListener("click", save);
    $("z-revert").addEventListener("click", () => { remember(); openCamera(Z.cam); });
    window.addEventListener("resize", () => { fit(); draw(); });
    window.addEventListener("beforeunload", (ev) => { if (dirty()) { ev.preventDefault(); ev.returnValue = ""; } });
    document.addEventListener("tw:lang", () => { renderList(); versionLine(); draw(); });

    const select = $("z-camera");
    try {
      Z.cameras = await api("/cameras");
    } catch (err) {
      Z.cameras = [];
    }
    const multiSite = new Set(Z.cameras.map((c) => c.site)).size > 1;
    for (const c of Z.cameras) select.append(el("option", { value: `${c.site}\u0000${c.camera}`, text: multiSite ? `${c.site} / ${c.camera}` : c.camera }));
    if (!Z.cameras.length) {
      Z.general = TW.bi("尚无摄像头：分析程序连接后会自动出现", "No cameras yet: they appear once a pipeline reports");
      renderList();
      fit();
      draw();
      document.body.dataset.ready = "1";
      return;
    }
    const q = new URLSearchParams(location.search);
    const want = Z.cameras.find((c) => c.camera === q.get("camera") && (!q.get("site") || c.site === q.get("site"))) || Z.cameras[0];
    select.value = `${want.site}\u0000${want.camera}`;
    select.addEventListener("change", () => {
      if (dirty() && !window.confirm(TW.text("放弃未保存的更改？", "Discard unsaved changes?"))) {
        select.value = `${Z.cam.site}\u0000${Z.cam.camera}`;
        return;
      }
      const [site, camera] = select.value.split("\u0000");
      openCamera({ site, camera });
    });
    await openCamera({ site: want.site, camera: want.camera });
    setInterval(poll, POLL_MS);
  });
})();
