/* Operator review queue: violations newest first, live over SSE, clip + snapshot, one-key review. */
"use strict";

(() => {
  const { api, query, el, bi, label, duration, siteDate, siteTime, siteDateTime, toast, errorText } = TW;
  const FILTERS = ["site", "camera", "zone", "rule", "state", "review_status", "date", "date_from", "date_to", "q"];
  const REVIEWERS = ["operator", "branch_head", "admin"];
  const PAGE = 50;

  const S = {
    items: [],
    sel: -1,
    selId: null,
    total: 0,
    filters: {},
    variant: localStorage.getItem("tw_clip_variant") === "raw" ? "raw" : "annotated",
    sound: localStorage.getItem("tw_sound") !== "off",
    canReview: REVIEWERS.includes(TW.boot.user.role),
    liveCount: 0,
    beeps: 0,
    unseen: new Set(),
    cameras: [],
    loading: 0,
  };

  const $ = (id) => document.getElementById(id);
  const list = $("queue-list");
  const video = $("clip");
  const snapshot = $("snapshot");
  const note = $("note");
  const baseTitle = document.title;

  // --------------------------------------------------------------------------- filters and URL
  function readUrl() {
    const q = new URLSearchParams(location.search);
    for (const k of FILTERS) S.filters[k] = q.get(k) || "";
    return q.get("id");
  }

  function writeUrl() {
    const params = { ...S.filters, id: S.selId || "" };
    history.replaceState(null, "", "/review" + query(params));
  }

  function fillFilterInputs() {
    const map = { site: "f-site", camera: "f-camera", zone: "f-zone", rule: "f-rule", state: "f-state", review_status: "f-review", date_from: "f-date-from", date_to: "f-date-to", q: "f-q" };
    for (const [k, id] of Object.entries(map)) {
      const input = $(id);
      if (!input) continue;
      if (input.tagName === "SELECT" && S.filters[k] && ![...input.options].some((o) => o.value === S.filters[k])) {
        input.append(el("option", { value: S.filters[k], text: S.filters[k] }));
      }
      input.value = S.filters[k] || "";
    }
  }

  function cameraOptions() {
    const select = $("f-camera");
    const keep = S.filters.camera;
    const sites = new Set(S.cameras.map((c) => c.site));
    const shown = S.cameras.filter((c) => !S.filters.site || c.site === S.filters.site);
    const ids = [...new Set(shown.map((c) => c.camera))].sort();
    select.replaceChildren(select.options[0]);
    for (const id of ids) {
      const where = shown.filter((c) => c.camera === id).map((c) => c.site);
      const text = sites.size > 1 && !S.filters.site ? `${id} (${where.join(", ")})` : id;
      select.append(el("option", { value: id, text }));
    }
    if (keep && !ids.includes(keep)) select.append(el("option", { value: keep, text: keep }));
    select.value = keep || "";
  }

  // a camera's status as its pipeline last reported it; a report older than this means no pipeline reports it
  const STATUS_STALE_MS = 60000;
  const CAMERA_STATUS = {
    up: ["在线", "Up"], reconnecting: ["重连中", "Reconnecting"], down: ["离线", "Down"], none: ["无报告", "No report"],
  };

  function renderCameraStatus() {
    const ul = $("camera-status");
    const now = Date.now();
    const shown = S.cameras.filter((c) => c.status && (!S.filters.site || c.site === S.filters.site));
    ul.replaceChildren(...shown.map((c) => {
      const stale = !c.status_at || now - Date.parse(c.status_at) > STATUS_STALE_MS;
      const st = stale ? "none" : c.status;
      return el("li", { class: `cam-st cam-${st}`, dataset: { camera: c.camera, status: st },
        title: c.status_at ? `${c.site} · ${siteDateTime(c.status_at)}` : c.site },
        el("i"), el("span", { class: "cam-id", text: c.camera }), " ", bi(CAMERA_STATUS[st]),
        c.clock_drift_alarm ? el("span", { class: "cam-drift", dataset: { drift: String(c.clock_drift_s) },
          title: "摄像机时钟偏差超过 60 秒 · Camera clock off by more than 60 s",
          text: ` ⏱ ${c.clock_drift_s > 0 ? "+" : ""}${Math.round(c.clock_drift_s)} s` }) : null);
    }));
    ul.hidden = shown.length === 0;
  }

  async function refreshCameraStatus() {
    try {
      S.cameras = await api("/cameras?reported=true");
    } catch (err) {
      return;
    }
    renderCameraStatus();
  }

  async function loadCameras() {
    try {
      S.cameras = await api("/cameras?reported=true");
    } catch (err) {
      S.cameras = [];
    }
    renderCameraStatus();
    const siteSelect = $("f-site");
    if (siteSelect) {
      for (const site of [...new Set(S.cameras.map((c) => c.site))].sort()) siteSelect.append(el("option", { value: site, text: site }));
      siteSelect.value = S.filters.site || "";
    }
    cameraOptions();
  }

  function bindFilters() {
    const form = $("filters");
    form.addEventListener("change", (ev) => {
      const name = ev.target.name;
      if (!FILTERS.includes(name)) return;
      S.filters[name] = ev.target.value;
      if (name === "site") cameraOptions();
      reload();
    });
    form.addEventListener("submit", (ev) => ev.preventDefault());
    $("f-clear").addEventListener("click", () => {
      for (const k of FILTERS) S.filters[k] = "";
      fillFilterInputs();
      cameraOptions();
      reload();
    });
  }

  function matches(v) {
    const f = S.filters;
    if (f.site && v.site !== f.site) return false;
    if (f.camera && v.camera !== f.camera) return false;
    if (f.rule && v.rule !== f.rule) return false;
    if (f.state && v.state !== f.state) return false;
    if (f.review_status === "reviewed" && v.review_status === "unreviewed") return false;
    if (f.review_status && f.review_status !== "reviewed" && v.review_status !== f.review_status) return false;
    if (f.date && siteDate(v.started_at) !== f.date) return false;
    if (!matchesMore(v)) return false;
    return true;
  }

  // --------------------------------------------------------------------------- loading
  async function fetchPage(offset) {
    const params = { ...S.filters, sort: "-started_at", limit: PAGE, offset };
    return api("/violations" + query(params));
  }

  async function reload(selectId) {
    const token = ++S.loading;
    const keep = selectId || S.selId;
    let page;
    try {
      page = await fetchPage(0);
    } catch (err) {
      toast(errorText(err), "error");
      return;
    }
    if (token !== S.loading) return; // a newer reload won
    S.items = page.items;
    S.total = page.total;
    let index = keep ? S.items.findIndex((v) => v.id === keep) : -1;
    if (keep && index < 0 && selectId) {
      try {
        const one = await api(`/violations/${encodeURIComponent(selectId)}`);
        S.items.splice(insertionIndex(one), 0, one);
        index = S.items.findIndex((v) => v.id === one.id);
      } catch (err) {
        toast(TW.bi("未找到该违规记录", "That violation was not found"), "error");
      }
    }
    renderList();
    select(index >= 0 ? index : S.items.length ? 0 : -1, { scroll: true });
  }

  async function loadMore() {
    try {
      const page = await fetchPage(S.items.length);
      const known = new Set(S.items.map((v) => v.id));
      S.items.push(...page.items.filter((v) => !known.has(v.id)));
      S.total = page.total;
      renderList();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  function insertionIndex(v) {
    const t = Date.parse(v.started_at);
    const i = S.items.findIndex((x) => Date.parse(x.started_at) < t);
    return i < 0 ? S.items.length : i;
  }

  // --------------------------------------------------------------------------- rendering
  function badge(kind, table, key) {
    return el("span", { class: `badge ${kind}-${key}` }, bi(label(table, key)));
  }

  function row(v, index) {
    const classes = ["row", `rule-${v.rule}`];
    if (index === S.sel) classes.push("selected");
    if (S.unseen.has(v.id)) classes.push("unseen");
    if (v.state === "open") classes.push("is-open");
    const thumb = v.snapshot_url
      ? el("img", { class: "row-thumb", src: v.snapshot_url, alt: "", loading: "lazy", decoding: "async" })
      : el("span", { class: "row-thumb none" });
    const li = el(
      "li",
      { class: classes.join(" "), dataset: { id: v.id, index: String(index) }, role: "option", "aria-selected": index === S.sel ? "true" : "false" },
      pickBox(v),
      el("span", { class: "row-bar" }),
      thumb,
      el(
        "div",
        { class: "row-main" },
        el(
          "div",
          { class: "row-top" },
          el("span", { class: "row-time", text: siteTime(v.started_at) }),
          el("span", { class: "row-rule" }, bi(label("rules", v.rule))),
        ),
        el(
          "div",
          { class: "row-sub" },
          el("span", { text: siteDate(v.started_at) }),
          el("span", { class: "sep", text: "·" }),
          el("span", { text: v.site }),
          el("span", { class: "sep", text: "·" }),
          el("span", { class: "row-camera", text: v.camera }),
          el("span", { class: "sep", text: "·" }),
          el("span", { text: v.zone }),
        ),
      ),
      el(
        "div",
        { class: "row-side" },
        el("span", { class: "row-dur", text: duration(v.duration_s) }),
        el("span", { class: "row-badges" }, v.state === "open" ? badge("state", "states", "open") : null, badge("rv", "review", v.review_status)),
      ),
    );
    return li;
  }

  function renderList() {
    list.replaceChildren(...S.items.map(row));
    list.dataset.count = String(S.items.length);
    $("queue-empty").hidden = S.items.length > 0;
    $("load-more").hidden = S.items.length >= S.total;
    $("queue-total").replaceChildren(bi(`共 ${S.total} 条`, `${S.total} total`));
    afterRender();
  }

  function replaceRow(index) {
    const old = list.children[index];
    if (old) old.replaceWith(row(S.items[index], index));
  }

  function select(index, { scroll = false } = {}) {
    const prev = S.sel;
    S.sel = index;
    const v = S.items[index];
    const changed = (v ? v.id : null) !== S.selId;
    S.selId = v ? v.id : null;
    if (v) S.unseen.delete(v.id);
    for (const i of [prev, index]) if (i >= 0 && i < S.items.length) replaceRow(i);
    if (scroll && list.children[index]) list.children[index].scrollIntoView({ block: "nearest" });
    showDetail(v, changed);
    writeUrl();
  }

  function clipUrl(v) {
    const annotated = v.details && v.details.clip_annotated && !v._noAnnotated;
    if (S.variant === "annotated" && annotated) return `${TW.boot.api}/violations/${encodeURIComponent(v.id)}/clip/annotated`;
    return v.clip_url || (annotated ? `${TW.boot.api}/violations/${encodeURIComponent(v.id)}/clip/annotated` : null);
  }

  function withDownload(url) {
    return url ? url + (url.includes("?") ? "&" : "?") + "download=1" : null;
  }

  /** A download link, and its "faces blurred" twin (?privacy=blur), shown only with a URL. */
  function setDownloads(id, url) {
    for (const [suffix, extra] of [["", ""], ["-blurred", "&privacy=blur"]]) {
      const a = $(id + suffix);
      if (!a) continue;
      a.hidden = !url;
      if (url) a.setAttribute("href", withDownload(url) + extra);
      else a.removeAttribute("href");
    }
  }

  /** Seconds into the clip where the violation starts (the pre-roll lies before it). */
  function violationStart(v) {
    const pre = v && v.details ? Number(v.details.clip_pre_s) : NaN;
    return Number.isFinite(pre) && pre > 0 ? pre : 0;
  }

  function setVideo(v) {
    const url = clipUrl(v);
    $("clip-missing").hidden = !!url;
    video.hidden = !url;
    setDownloads("clip-download", url);
    if (!url) {
      video.removeAttribute("src");
      video.load();
      return;
    }
    if (video.getAttribute("src") !== url) {
      // play from the violation's start (set once the metadata is in); the pre-roll stays
      // reachable by seeking back
      video.dataset.start = String(violationStart(v));
      video.dataset.seekPending = "1";
      video.setAttribute("src", url);
      video.load();
      const p = video.play();
      if (p && p.catch) p.catch(() => {});
    }
    const hasAnnotated = !!(v.details && v.details.clip_annotated && !v._noAnnotated);
    for (const b of $("clip-variant").querySelectorAll("button")) {
      const variant = b.dataset.variant;
      const available = variant === "raw" ? !!v.clip_url : hasAnnotated;
      b.disabled = !available;
      b.setAttribute("aria-pressed", String(url.endsWith("/annotated") ? variant === "annotated" : variant === "raw"));
    }
  }

  function fact(dt, dd) {
    return [el("dt", {}, dt), el("dd", {}, dd)];
  }

  function showDetail(v, changed) {
    $("detail-empty").hidden = !!v;
    $("detail-body").hidden = !v;
    if (!v) {
      video.pause();
      return;
    }
    setVideo(v);
    if (changed) {
      snapshot.hidden = !v.snapshot_url;
      $("snap-missing").hidden = !!v.snapshot_url;
      $("snap-open").hidden = !v.snapshot_url;
      if (v.snapshot_url) snapshot.src = v.snapshot_url;
      else snapshot.removeAttribute("src");
      setDownloads("snap-download", v.snapshot_url);
      const at = v.details && v.details.snapshot_at;
      $("snap-at").textContent = at ? siteTime(at) : "";
      note.value = v.review_note || "";
    }
    $("d-rule").replaceChildren(bi(label("rules", v.rule)));
    $("d-state").replaceChildren(bi(label("states", v.state)));
    $("d-state").className = `badge state-${v.state}`;
    $("d-review").replaceChildren(bi(label("review", v.review_status)));
    $("d-review").className = `badge rv-${v.review_status}`;
    $("d-severity").replaceChildren(bi("严重度 ", "Severity "), bi(label("severity", v.severity)));
    $("d-severity").className = `badge sev-${v.severity}`;
    const facts = [
      ...fact(bi("开始", "Started"), siteDateTime(v.started_at)),
      ...fact(bi("结束", "Ended"), v.ended_at ? siteDateTime(v.ended_at) : bi("尚未结束", "still open")),
      ...fact(bi("持续", "Duration"), duration(v.duration_s)),
      ...fact(bi("位置", "Where"), `${v.site} / ${v.camera} / ${v.zone}`),
      ...fact(bi("目标编号", "Track ids"), (v.track_ids || []).join(", ") || "–"),
    ];
    for (const [k, val] of Object.entries(v.details || {})) {
      if (k.startsWith("clip") || k.startsWith("snapshot")) continue;
      const name = TW.boot.labels.details[k] ? bi(label("details", k)) : k;
      if (k === "items" && Array.isArray(val)) {
        facts.push(...fact(name, val.map((it) => (it && it.label) || "?").join(", ") || "–"));
      } else if (k === "entries" && Array.isArray(val)) {
        facts.push(...fact(name, val.map((e) => `#${e && e.track_id} ${((e && e.at) || "").slice(11, 19)}`).join(", ") || "–"));
      } else if (val === null || typeof val !== "object") {
        facts.push(...fact(name, String(val)));
      }
    }
    if (v.reviewed_by) facts.push(...fact(bi("复核", "Reviewed"), `${v.reviewed_by} · ${(v.reviewed_at || "").slice(0, 16).replace("T", " ")} UTC`));
    $("d-facts").replaceChildren(...facts);
    for (const b of document.querySelectorAll(".act")) {
      b.disabled = !S.canReview;
      b.setAttribute("aria-pressed", String(b.dataset.mark === v.review_status));
    }
    $("review-readonly").hidden = S.canReview;
    note.disabled = !S.canReview;
  }

  // --------------------------------------------------------------------------- review
  async function mark(status) {
    const v = S.items[S.sel];
    if (!v || !S.canReview) return;
    const body = { review_status: status };
    const text = note.value.trim();
    if (text !== (v.review_note || "")) body.note = text;
    const index = S.sel;
    try {
      const updated = await api(`/violations/${encodeURIComponent(v.id)}`, { method: "PATCH", body });
      refreshUnreviewed();
      const at = S.items.findIndex((x) => x.id === updated.id);
      if (at >= 0) {
        S.items[at] = { ...updated, _noAnnotated: v._noAnnotated };
        replaceRow(at);
      }
      toast(TW.bi(`已标记为「${label("review", status)[0]}」`, `Marked ${label("review", status)[1].toLowerCase()}`), "ok", 2000);
      if (index + 1 < S.items.length) select(index + 1, { scroll: true });
      else showDetail(S.items[index], false);
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  // --------------------------------------------------------------------------- live
  let audio = null;
  function unlockAudio() {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
    } catch (err) {
      audio = null;
    }
  }

  function beep() {
    if (!S.sound) return;
    S.beeps += 1;
    list.dataset.beeps = String(S.beeps);
    try {
      unlockAudio();
      if (!audio) return;
      const t = audio.currentTime;
      for (const [start, freq] of [[0, 880], [0.18, 1175]]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t + start);
        gain.gain.exponentialRampToValueAtTime(0.18, t + start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + start + 0.16);
        osc.connect(gain).connect(audio.destination);
        osc.start(t + start);
        osc.stop(t + start + 0.18);
      }
    } catch (err) {
      /* no audio device: the visual cue still shows */
    }
  }

  function onLive(v) {
    refreshUnreviewed();
    S.liveCount += 1;
    list.dataset.live = String(S.liveCount);
    const at = S.items.findIndex((x) => x.id === v.id);
    if (at >= 0) {
      const old = S.items[at];
      S.items[at] = { ...v, _noAnnotated: old._noAnnotated };
      replaceRow(at);
      if (at === S.sel) showDetail(S.items[at], false);
      return;
    }
    if (!matches(v)) return;
    const index = insertionIndex(v);
    S.items.splice(index, 0, v);
    S.total += 1;
    S.unseen.add(v.id);
    if (S.sel >= index) S.sel += 1;
    renderList();
    const li = list.children[index];
    if (li) {
      li.classList.add("flash");
      setTimeout(() => li.classList.remove("flash"), 2500);
    }
    if (S.sel < 0) select(index);
    beep();
    notify(v);
  }

  function setLive(state) {
    const pill = $("live-status");
    pill.className = `live-pill ${state}`;
  }

  function connectLive() {
    const source = new EventSource(`${TW.boot.api}/live`);
    let hadError = false;
    source.addEventListener("open", () => {
      setLive("on");
      if (hadError) reload();
      hadError = false;
    });
    source.addEventListener("violation", (ev) => {
      try { onLive(JSON.parse(ev.data)); } catch (err) { /* a malformed message is skipped */ }
    });
    source.addEventListener("dropped", () => reload());
    source.addEventListener("error", () => {
      hadError = true;
      setLive("off");
      if (source.readyState === EventSource.CLOSED) {
        // a refused stream (expired login) does not retry by itself: check, then start over
        api("/auth/me").then(() => setTimeout(connectLive, 5000), () => {});
      }
    });
  }

  function openLightbox() {
    const v = S.items[S.sel];
    if (!v || !v.snapshot_url) return;
    $("lightbox-img").src = v.snapshot_url;
    const at = v.details && v.details.snapshot_at;
    $("lightbox-caption").replaceChildren(bi(label("rules", v.rule)), ` · ${v.camera} · `, at ? siteDateTime(at) : "");
    $("lightbox").showModal();
  }

  // --------------------------------------------------------------------------- keys and buttons
  function togglePlay() {
    if (video.hidden || !video.getAttribute("src")) return;
    if (video.paused) {
      const p = video.play();
      if (p && p.catch) p.catch(() => {});
    } else video.pause();
  }

  function bind() {
    list.addEventListener("click", (ev) => {
      const li = ev.target.closest("li.row");
      if (li) select(Number(li.dataset.index));
    });
    $("load-more").addEventListener("click", loadMore);
    for (const b of document.querySelectorAll(".act")) {
      b.addEventListener("click", () => {
        b.blur();
        mark(b.dataset.mark);
      });
    }
    $("clip-variant").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-variant]");
      if (!b || b.disabled) return;
      S.variant = b.dataset.variant;
      localStorage.setItem("tw_clip_variant", S.variant);
      if (S.sel >= 0) setVideo(S.items[S.sel]);
    });
    // native controls while the pointer is over the clip, a clean picture otherwise
    // a clip ends on its post-roll and stays there: no loop back into the pre-roll
    video.addEventListener("loadedmetadata", () => {
      if (video.dataset.seekPending !== "1") return;
      video.dataset.seekPending = "0";
      const start = Number(video.dataset.start) || 0;
      if (start > 0 && start < video.duration) video.currentTime = start;
    });
    video.addEventListener("ended", () => {
      // the next play starts at the violation again, not at the pre-roll
      video.pause();
      const start = Number(video.dataset.start) || 0;
      if (start > 0 && start < video.duration) video.currentTime = start;
    });
    $("snap-open").addEventListener("click", openLightbox);
    $("lightbox").addEventListener("click", (ev) => {
      if (ev.target === ev.currentTarget || ev.target.id === "lightbox-img") $("lightbox").close();
    });
    const box = video.closest(".clip-box");
    box.addEventListener("mouseenter", () => { video.controls = true; });
    box.addEventListener("mouseleave", () => { video.controls = false; });
    video.addEventListener("error", () => {
      const v = S.items[S.sel];
      if (v && video.getAttribute("src") && video.getAttribute("src").endsWith("/annotated") && !v._noAnnotated) {
        v._noAnnotated = true; // the annotated file is not on this server: fall back to the raw clip
        setVideo(v);
      }
    });
    const sound = $("sound-toggle");
    const showSound = () => {
      sound.setAttribute("aria-pressed", String(S.sound));
      sound.classList.toggle("muted", !S.sound);
    };
    showSound();
    sound.addEventListener("click", () => {
      S.sound = !S.sound;
      localStorage.setItem("tw_sound", S.sound ? "on" : "off");
      showSound();
      if (S.sound) unlockAudio();
    });
    document.addEventListener("pointerdown", unlockAudio, { once: true });
    document.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const t = ev.target;
      const typing = t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
      if (typing) {
        if (ev.key === "Escape") t.blur();
        return;
      }
      unlockAudio();
      const key = ev.key.toLowerCase();
      if (key === "j" || ev.key === "ArrowDown") {
        if (S.sel + 1 < S.items.length) select(S.sel + 1, { scroll: true });
        else if (S.items.length < S.total) loadMore();
      } else if (key === "k" || ev.key === "ArrowUp") {
        if (S.sel > 0) select(S.sel - 1, { scroll: true });
      } else if (key === "t") mark("true_positive");
      else if (key === "f") mark("false_positive");
      else if (key === "a") mark("acknowledged");
      else if (key === " ") togglePlay();
      else if (key === "n") note.focus();
      else return;
      ev.preventDefault();
    });
    document.addEventListener("tw:lang", () => {
      if (S.sel >= 0) showDetail(S.items[S.sel], false);
    });
  }

  // --------------------------------------------------------------------------- the operator's day
  // Zone filter, date range, note search, multi-select with bulk review (PATCH /violations), the
  // unreviewed count in the tab title and opt-in desktop notifications for new live alerts.

  /** An old-style ?date=D link (from the summary) becomes the range D..D. */
  function dateToRange() {
    if (S.filters.date && !S.filters.date_from && !S.filters.date_to) {
      S.filters.date_from = S.filters.date;
      S.filters.date_to = S.filters.date;
    }
    S.filters.date = "";
  }

  function matchesMore(v) {
    const f = S.filters;
    if (f.zone && v.zone !== f.zone) return false;
    const day = siteDate(v.started_at);
    if (f.date_from && day < f.date_from) return false;
    if (f.date_to && day > f.date_to) return false;
    if (f.q && !(v.review_note || "").toLowerCase().includes(f.q.toLowerCase())) return false;
    return true;
  }

  /** The zones of every camera the user sees (GET /cameras/{id}/zones), plus any seen in records. */
  async function loadZones() {
    const names = new Set();
    // cameras known only from a status report (never a record, frame or zone) have no zones to ask for
    const cams = S.cameras.filter((c) => c.last_seen || c.zones_version || c.has_frame).slice(0, 50);
    const answers = await Promise.all(
      cams.map((c) => api(`/cameras/${encodeURIComponent(c.camera)}/zones` + query({ site: c.site })).catch(() => null)),
    );
    for (const a of answers) for (const z of (a && a.zones) || []) names.add(z.name);
    zoneOptions(names);
  }

  function zoneOptions(names) {
    const select = $("f-zone");
    const known = new Set([...select.options].map((o) => o.value));
    const all = [...names, S.filters.zone].filter((z) => z && !known.has(z));
    for (const z of [...new Set(all)].sort()) select.append(el("option", { value: z, text: z }));
    select.value = S.filters.zone || "";
  }

  /** After the queue is drawn: the selection bar, and zone names seen in the records. */
  function afterRender() {
    showPicked();
    zoneOptions(new Set(S.items.map((v) => v.zone)));
  }

  // ---- tab title: how many are waiting for review, across everything this user may see
  let unreviewed = null;
  let unreviewedTimer = 0;

  function setTitle() {
    document.title = (unreviewed === null ? "" : `(${unreviewed}) `) + baseTitle;
    document.body.dataset.unreviewed = unreviewed === null ? "" : String(unreviewed);
  }

  function refreshUnreviewed() {
    clearTimeout(unreviewedTimer);
    unreviewedTimer = setTimeout(async () => {
      try {
        const page = await api("/violations" + query({ review_status: "unreviewed", limit: 1 }));
        unreviewed = page.total;
        setTitle();
      } catch (err) {
        /* the title keeps its last count */
      }
    }, 250);
  }

  // ---- multi-select and bulk review
  const picked = new Set();

  function pickBox(v) {
    if (!S.canReview) return null;
    return el("input", {
      type: "checkbox",
      class: "pick",
      checked: picked.has(v.id),
      "aria-label": TW.text("选择", "Select") + ` ${v.id}`,
      onclick: (ev) => ev.stopPropagation(),
      onchange: (ev) => {
        if (ev.target.checked) picked.add(v.id);
        else picked.delete(v.id);
        showPicked();
      },
    });
  }

  function showPicked() {
    const bar = $("bulk-bar");
    bar.hidden = !S.canReview;
    for (const id of [...picked]) if (!S.items.some((v) => v.id === id)) picked.delete(id);
    const n = picked.size;
    $("bulk-count").replaceChildren(n ? bi(`已选 ${n} 条`, `${n} selected`) : bi("勾选后一并标记", "Tick rows to mark together"));
    bar.dataset.count = String(n);
    for (const b of bar.querySelectorAll(".bulk-act")) b.disabled = n === 0;
    const all = $("bulk-all");
    all.checked = n > 0 && n === S.items.length;
    all.indeterminate = n > 0 && n < S.items.length;
  }

  async function markPicked(status) {
    const ids = S.items.filter((v) => picked.has(v.id)).map((v) => v.id);
    if (!ids.length || !S.canReview) return;
    const buttons = [...document.querySelectorAll(".bulk-act")];
    for (const b of buttons) b.disabled = true;
    try {
      let done = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const res = await api("/violations", { method: "PATCH", body: { ids: ids.slice(i, i + 500), review_status: status } });
        for (const updated of res.items) {
          const at = S.items.findIndex((x) => x.id === updated.id);
          if (at >= 0) S.items[at] = { ...updated, _noAnnotated: S.items[at]._noAnnotated };
        }
        done += res.updated;
      }
      picked.clear();
      renderList();
      if (S.sel >= 0) showDetail(S.items[S.sel], false);
      const name = label("review", status);
      toast(TW.bi(`${done} 条已标记为「${name[0]}」`, `${done} marked ${name[1].toLowerCase()}`), "ok", 2500);
      refreshUnreviewed();
    } catch (err) {
      toast(errorText(err), "error");
      showPicked();
    }
  }

  // ---- desktop notifications (opt-in; the browser asks once)
  const canNotify = "Notification" in window;
  let notifyOn = canNotify && localStorage.getItem("tw_notify") === "on" && Notification.permission === "granted";

  function showNotify() {
    const b = $("notify-toggle");
    b.hidden = !canNotify;
    b.setAttribute("aria-pressed", String(notifyOn));
    b.classList.toggle("muted", !notifyOn);
  }

  async function toggleNotify() {
    if (!canNotify) return;
    if (notifyOn) {
      notifyOn = false;
    } else {
      const permission = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
      notifyOn = permission === "granted";
      if (!notifyOn) toast(TW.bi("浏览器拒绝了桌面通知；请在网站设置中允许", "The browser blocks notifications for this site; allow them in its site settings"), "error");
    }
    localStorage.setItem("tw_notify", notifyOn ? "on" : "off");
    showNotify();
  }

  function notify(v) {
    if (!notifyOn || Notification.permission !== "granted") return;
    try {
      const n = new Notification(`TellerWatch · ${TW.text(label("rules", v.rule))}`, {
        body: `${v.site} / ${v.camera} / ${v.zone} · ${siteTime(v.started_at)}`,
        tag: v.id,
      });
      n.onclick = () => {
        window.focus();
        const at = S.items.findIndex((x) => x.id === v.id);
        if (at >= 0) select(at, { scroll: true });
        n.close();
      };
    } catch (err) {
      /* a browser that only notifies from a service worker: the sound and the flash remain */
    }
  }

  function bindDay() {
    $("bulk-all").addEventListener("change", (ev) => {
      picked.clear();
      if (ev.target.checked) for (const v of S.items) picked.add(v.id);
      for (const box of list.querySelectorAll("input.pick")) box.checked = ev.target.checked;
      showPicked();
    });
    for (const b of document.querySelectorAll(".bulk-act")) b.addEventListener("click", () => markPicked(b.dataset.bulk));
    // the note search narrows as one types (the form's change event covers Enter and leaving the box)
    let typing = 0;
    $("f-q").addEventListener("input", (ev) => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        if (S.filters.q === ev.target.value.trim()) return;
        S.filters.q = ev.target.value.trim();
        reload();
      }, 300);
    });
    // x ticks or unticks the selected row, so a run of alerts can be gathered from the keyboard
    document.addEventListener("keydown", (ev) => {
      if (ev.key.toLowerCase() !== "x" || ev.ctrlKey || ev.metaKey || ev.altKey || !S.canReview) return;
      const t = ev.target;
      if (t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
      const v = S.items[S.sel];
      if (!v) return;
      if (picked.has(v.id)) picked.delete(v.id);
      else picked.add(v.id);
      const box = list.querySelector(`li.row[data-id="${CSS.escape(v.id)}"] input.pick`);
      if (box) box.checked = picked.has(v.id);
      showPicked();
      ev.preventDefault();
    });
    $("notify-toggle").addEventListener("click", toggleNotify);
    showNotify();
    refreshUnreviewed();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const id = readUrl();
    dateToRange();
    fillFilterInputs();
    bind();
    bindFilters();
    bindDay();
    await loadCameras();
    await loadZones();
    fillFilterInputs();
    connectLive();
    setInterval(refreshCameraStatus, 10000);
    await reload(id);
    document.body.dataset.ready = "1";
  });
})();
