"""The operator's and the branch head's day, in real headless Chromium against the shared seeded
server: bulk review of 20 alerts, the review page's filters, title count and desktop
notifications, the week's summary with false positives apart, and header labels that stay on one
line at 1366x768 in Chinese and in English.

This module's records belong to its own site (``site-w``) in October 2026, before every other
page test's days, with rules and zones the other tests do not filter on.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.models import Violation
from tests.web.conftest import WebEnv, screenshot
from tests.web.seed import PASSWORD, violation

pytestmark = pytest.mark.e2e
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
expect = sync_api.expect

SITE = "site-w"
HEAD = "head-w"
WEEK = ("2026-10-12", "2026-10-18")  # Monday to Sunday
PER_DAY = {"2026-10-12": 3, "2026-10-13": 5, "2026-10-14": 5, "2026-10-15": 5, "2026-10-16": 5,
           "2026-10-17": 2, "2026-10-18": 1}
BULK_RANGE = ("2026-10-13", "2026-10-16")  # 20 alerts
FP_DAYS = ("2026-10-17", "2026-10-18")  # 3 alerts, 2 of them false positives

# every text that heads something: table heads, card and KPI titles, field labels, tabs, buttons
HEADER_LABELS = (
    "table.data th, .kpi-label, .card-head h2, .field-label, nav.tabs a, .toolbar button, .toolbar a,"
    " .filterbar button, .bulk-bar button, .bulk-bar label, .topbar .chip-btn, .page-title, .stage-toolbar label"
)
WRAPPED = """(selector) => {
  // a label is wrapped when two of its text boxes do not share any height: two lines
  const out = [];
  for (const node of document.querySelectorAll(selector)) {
    if (!node.offsetParent) continue;  // not shown
    const boxes = [];
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      if (!t.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(t);
      for (const r of range.getClientRects()) if (r.width > 0 && r.height > 0) boxes.push(r);
    }
    const lines = [];
    for (const r of boxes) {
      const line = lines.find((l) => r.top < l.bottom - 2 && r.bottom > l.top + 2);
      if (line) { line.top = Math.min(line.top, r.top); line.bottom = Math.max(line.bottom, r.bottom); }
      else lines.push({ top: r.top, bottom: r.bottom });
    }
    const name = node.textContent.trim().replace(/\\s+/g, " ");
    if (lines.length > 1) out.push(`wrapped: ${name}`);
    // nor pushed out of the box that holds it (nowrap text can overflow instead of wrapping)
    const box = node.parentElement.closest(".bulk-bar, .kpi, .card, .toolbar, .filterbar, .topbar, .field, section");
    if (box) {
      const a = node.getBoundingClientRect();
      const b = box.getBoundingClientRect();
      if (a.right > b.right + 1 || a.left < b.left - 1) out.push(`overflows: ${name}`);
    }
    const clips = getComputedStyle(node).overflow !== "visible";
    if (clips && node.scrollWidth > node.clientWidth + 1) out.push(`cut: ${name}`);
  }
  return out;
}"""
NOTIFICATION_SPY = """(() => {
  const Real = window.Notification;
  window.__notes = [];
  function Spy(title, options) {
    window.__notes.push({ title, body: options && options.body, tag: options && options.tag });
    return new Real(title, options);
  }
  Object.defineProperty(Spy, "permission", { get: () => Real.permission });
  Spy.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Spy;
})();"""


SHOWN = "() => [...document.querySelectorAll('#queue-list li.row')].map(r => r.dataset.id).join() === '{}'"


def ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']")


def rows(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#queue-list li.row", "els => els.map(e => e.dataset.id)"))


@pytest.fixture(scope="module")
def week(web: WebEnv) -> dict[str, list[str]]:
    """26 alerts at site-w over one ISO week, on two cameras with a zone each; a branch head of it."""
    ids: dict[str, list[str]] = {d: [] for d in PER_DAY}
    for day, n in PER_DAY.items():
        for k in range(n):
            camera, zone = ("w-cam-1", "teller_area") if k % 2 == 0 else ("w-cam-2", "vault_corridor")
            rule = "dual_teller" if k % 3 else "non_staff_in_area"
            rec = violation(f"w{day[-2:]}{k}", SITE, camera, rule, zone, f"{day}T{9 + k:02d}:1{k}:00+08:00",
                            5.0 + k, True, min_staff_seen=1)
            ids[day].append(web.seeder.push(rec, annotated=False))
    web.api("POST", "/users", "adm", json={"username": HEAD, "password": PASSWORD, "role": "branch_head", "site": SITE})
    return ids


def in_range(ids: dict[str, list[str]], lo: str, hi: str) -> list[str]:
    return [i for d, day_ids in ids.items() if lo <= d <= hi for i in day_ids]


def unreviewed_total(web: WebEnv, who: str) -> int:
    return int(web.api("GET", "/violations?review_status=unreviewed&limit=1", who)["total"])


def test_operator_reviews_twenty_alerts_in_bulk(web: WebEnv, open_page: Any, week: dict[str, list[str]]) -> None:
    page = open_page("op")
    target = in_range(week, *BULK_RANGE)
    assert len(target) == 20
    with web.app.state.db.session() as s:  # start from unreviewed, whatever ran before
        for row in s.query(Violation).filter(Violation.id.in_(target)):
            row.review_status, row.reviewed_at, row.reviewed_by, row.review_note = "unreviewed", None, None, None
        s.commit()
    page.goto(web.url + f"/review?site={SITE}&date_from={BULK_RANGE[0]}&date_to={BULK_RANGE[1]}")
    ready(page)
    expect(page.locator("#f-date-from")).to_have_value(BULK_RANGE[0])
    expect(page.locator("#f-date-to")).to_have_value(BULK_RANGE[1])
    page.wait_for_function("() => document.querySelectorAll('#queue-list li.row').length === 20")
    assert set(rows(page)) == set(target)
    waiting = unreviewed_total(web, "op")
    expect(page).to_have_title(re.compile(rf"^\({waiting}\) "))
    # select all shown, mark them true positives in one request
    expect(page.locator(".bulk-act[data-bulk='true_positive']")).to_be_hidden()  # until something is ticked
    page.check("#bulk-all")
    expect(page.locator("#bulk-bar")).to_have_attribute("data-count", "20")
    expect(page.locator("#bulk-count")).to_contain_text("20")
    screenshot(page, "review-bulk")
    with page.expect_request(lambda r: r.method == "PATCH" and r.url.endswith("/api/v1/violations")) as sent:
        page.click(".bulk-act[data-bulk='true_positive']")
    assert len(sent.value.post_data_json["ids"]) == 20
    expect(page.locator("#queue-list li.row .badge.rv-true_positive")).to_have_count(20)
    expect(page.locator("#bulk-bar")).to_have_attribute("data-count", "0")
    for vid in target:
        stored = web.api("GET", f"/violations/{vid}", "op")
        assert (stored["review_status"], stored["reviewed_by"]) == ("true_positive", "op")
    expect(page).to_have_title(re.compile(rf"^\({waiting - 20}\) "))
    # tick two rows by hand on the weekend, mark them false positives together
    weekend = in_range(week, *FP_DAYS)
    page.fill("#f-date-from", FP_DAYS[0])
    page.dispatch_event("#f-date-from", "change")
    page.fill("#f-date-to", FP_DAYS[1])
    page.dispatch_event("#f-date-to", "change")
    page.wait_for_function("() => document.querySelectorAll('#queue-list li.row').length === 3")
    page.check(f"#queue-list li.row[data-id='{weekend[0]}'] input.pick")
    page.click(f"#queue-list li.row[data-id='{weekend[1]}']")  # and the other with the x key
    page.keyboard.press("x")
    expect(page.locator(f"#queue-list li.row[data-id='{weekend[1]}'] input.pick")).to_be_checked()
    expect(page.locator("#bulk-count")).to_contain_text("2")
    page.click(".bulk-act[data-bulk='false_positive']")
    for vid in weekend[:2]:
        expect(page.locator(f"#queue-list li.row[data-id='{vid}'] .badge.rv-false_positive")).to_be_visible()
    assert web.api("GET", f"/violations/{weekend[2]}", "op")["review_status"] == "unreviewed"


def test_zone_camera_and_note_filters(web: WebEnv, open_page: Any, week: dict[str, list[str]]) -> None:
    page = open_page("op")
    page.goto(web.url + f"/review?site={SITE}&date_from={WEEK[0]}&date_to={WEEK[1]}")
    ready(page)
    page.wait_for_function("() => document.querySelectorAll('#queue-list li.row').length === 26")
    expect(page.locator("#f-zone option[value='vault_corridor']")).to_have_count(1)
    page.select_option("#f-zone", "vault_corridor")
    expected = web.api(
        "GET", f"/violations?site={SITE}&zone=vault_corridor&date_from={WEEK[0]}&date_to={WEEK[1]}&limit=100", "op"
    )
    page.wait_for_function(f"() => document.querySelectorAll('#queue-list li.row').length === {expected['total']}")
    assert set(rows(page)) == {v["id"] for v in expected["items"]}
    assert expected["total"] == sum(n // 2 for n in PER_DAY.values())  # the odd-numbered alerts of each day
    page.select_option("#f-zone", "")
    page.select_option("#f-camera", "w-cam-1")
    on_cam_1 = sum((n + 1) // 2 for n in PER_DAY.values())
    page.wait_for_function(f"() => document.querySelectorAll('#queue-list li.row').length === {on_cam_1}")
    assert all(c == "w-cam-1" for c in page.locator("#queue-list li.row .row-camera").all_text_contents())
    # a note written on one alert, then found by searching the notes
    first = rows(page)[0]
    page.click(f"#queue-list li.row[data-id='{first}']")
    page.fill("#note", "顾客遗留雨伞 Umbrella left at window 3")
    page.click("button.act-ack")
    expect(page.locator(f"#queue-list li.row[data-id='{first}'] .badge.rv-acknowledged")).to_be_visible()
    page.select_option("#f-camera", "")
    page.fill("#f-q", "umbrella")
    page.wait_for_function("() => document.querySelectorAll('#queue-list li.row').length === 1")
    assert rows(page) == [first]
    expect(page).to_have_url(re.compile(r"[?&]q=umbrella"))
    page.fill("#f-q", "雨伞")
    page.wait_for_function(SHOWN.format(first))
    page.fill("#f-q", "no such words")
    expect(page.locator("#queue-empty")).to_be_visible()


def test_desktop_notification_for_a_new_live_alert(web: WebEnv, open_page: Any, week: dict[str, list[str]]) -> None:
    page = open_page("op")
    page.context.grant_permissions(["notifications"], origin=web.url)
    page.add_init_script(NOTIFICATION_SPY)
    page.goto(web.url + f"/review?site={SITE}")
    ready(page)
    expect(page.locator("#live-status")).to_have_class(re.compile(r"\bon\b"))
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "false")  # opt-in
    before = unreviewed_total(web, "op")
    expect(page).to_have_title(re.compile(rf"^\({before}\) "))
    page.click("#notify-toggle")
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
    rec = violation("w-live", SITE, "w-cam-2", "non_staff_in_area", "vault_corridor", "2026-10-11T08:05:00+08:00",
                    3.0, ended=False, max_non_staff=1)
    web.seeder.push(rec, annotated=False)
    page.wait_for_function("() => window.__notes.length === 1")
    note = page.evaluate("window.__notes[0]")
    assert note["tag"] == rec["id"] and "w-cam-2" in note["body"] and "site-w" in note["body"]
    assert "非营业人员进入营业间" in note["title"] or "Non-staff" in note["title"]
    expect(page).to_have_title(re.compile(rf"^\({before + 1}\) "))
    # the choice is remembered; switched off, nothing more is shown
    page.reload()
    ready(page)
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
    page.click("#notify-toggle")
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "false")


def test_branch_head_reads_a_week_without_false_positives_in_the_headline(
    web: WebEnv, open_page: Any, week: dict[str, list[str]]
) -> None:
    # whatever ran before: 20 reviewed true, 2 false positives, the rest unreviewed
    web.api("PATCH", "/violations", "adm", json={"ids": in_range(week, *BULK_RANGE), "review_status": "true_positive"})
    weekend = in_range(week, *FP_DAYS)
    web.api("PATCH", "/violations", "adm", json={"ids": weekend[:2], "review_status": "false_positive"})
    api_week = web.api("GET", f"/summaries/daily?date={WEEK[0]}&period=week", HEAD)
    assert (api_week["total"], api_week["false_positives"]) == (24, 2)
    page = open_page(HEAD)
    page.goto(web.url + "/summary")
    ready(page)
    # no date: the latest day with violations at their site
    latest = web.api("GET", "/summaries/daily", HEAD)["date"]
    expect(page.locator("#s-date")).to_have_value(latest)
    page.fill("#s-date", "2026-10-14")
    page.dispatch_event("#s-date", "change")
    page.wait_for_function("() => document.getElementById('s-date').value === '2026-10-14'")
    ready(page)
    expect(page.locator("#k-total")).to_have_text(str(PER_DAY["2026-10-14"]))
    page.click("#s-period button[data-period='week']")
    expect(page.locator("#s-period button[data-period='week']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#s-range")).to_have_text(f"{WEEK[0]} – {WEEK[1]}")
    expect(page).to_have_url(re.compile(r"period=week"))
    ready(page)
    expect(page.locator("#k-total")).to_have_text("24")  # 26 alerts, 2 false positives apart
    expect(page.locator("#k-fp")).to_have_text("2")
    bars = page.locator("#hourly svg g.bar")
    assert sum(int(x) for x in bars.evaluate_all("gs => gs.map(g => g.dataset.count)")) == 24
    # day by day, false positives apart: both on Saturday the 17th
    days = page.locator("#by-day svg g.day").evaluate_all(
        "gs => gs.map(g => [g.dataset.date, Number(g.dataset.count), Number(g.dataset.fp)])"
    )
    fp_by_day = {"2026-10-17": 2}
    assert days == [[d, n - fp_by_day.get(d, 0), fp_by_day.get(d, 0)] for d, n in PER_DAY.items()]
    fps = page.locator("#by-rule td.fp-cell").evaluate_all("tds => tds.map(t => Number(t.dataset.fp))")
    assert sum(fps) == 2
    medians = {r["rule"]: r["median_review_s"] for r in api_week["by_rule"]}
    for rule, median in medians.items():
        cell = page.locator(f"#by-rule tr[data-rule='{rule}'] td.median-cell")
        assert median is not None
        expect(cell).to_have_attribute("data-median", re.compile(r"^\d"))
    # the worst incidents come from the whole week
    worst = page.locator("#worst li")
    expect(worst).to_have_count(5)
    week_ids = {i for d in PER_DAY for i in week[d]}
    assert all(i in week_ids for i in worst.evaluate_all("lis => lis.map(l => l.dataset.id)"))
    screenshot(page, "summary-week")
    # the CSV export is the week's too
    href = page.get_attribute("#s-csv", "href")
    assert href is not None and "period=week" in href
    got = page.context.request.get(web.url + href)
    assert got.ok and sum(int(line.split(",")[7]) for line in got.text().splitlines()[1:]) == 24
    # month: the same figures here, since the week is the month's only one with alerts
    page.click("#s-period button[data-period='month']")
    expect(page.locator("#s-range")).to_have_text("2026-10-01 – 2026-10-31")
    month = web.api("GET", "/summaries/daily?date=2026-10-14&period=month", HEAD)
    expect(page.locator("#k-total")).to_have_text(str(month["total"]))
    expect(page.locator("#by-day svg g.day")).to_have_count(31)
    page.click("#s-period button[data-period='day']")
    expect(page.locator("#s-range")).to_have_text("")
    expect(page.locator("#by-day")).to_be_hidden()
    expect(page.locator("#k-total")).to_have_text(str(PER_DAY["2026-10-14"]))


# with both languages shown, table heads put the English under the Chinese on purpose
BOTH_LABELS = "nav.tabs a, .topbar .chip-btn, .live-pill, .toolbar button, .filterbar .field-label, .bulk-bar button"


@pytest.mark.parametrize("lang", ["zh", "en", "both"])
def test_header_labels_stay_on_one_line(
    web: WebEnv, open_page: Any, week: dict[str, list[str]], lang: str
) -> None:
    page = open_page("adm")
    page.context.add_cookies([{"name": "tw_lang", "value": lang, "url": web.url}])
    for path, name in (
        (f"/review?site={SITE}", "review"),
        ("/summary?date=2026-11-26", "summary"),
        (f"/summary?date={WEEK[0]}&period=week&site={SITE}", "summary-week"),
        ("/zones", "zones"),
    ):
        page.goto(web.url + path)
        page.wait_for_load_state("networkidle")
        expect(page.locator("html")).to_have_class(f"lang-{lang}")
        if name == "review":  # the bulk buttons show once a row is ticked
            page.check("#bulk-all")
            expect(page.locator(".bulk-act").first).to_be_visible()
        wrapped = page.evaluate(WRAPPED, BOTH_LABELS if lang == "both" else HEADER_LABELS)
        assert wrapped == [], f"{path} in {lang}: labels on two lines: {wrapped}"
        screenshot(page, f"{name}-{lang}")
