"""The three pages driven in real headless Chromium against a live, seeded server.

Tests share one server; each leaves data the next ones do not count on (reviews and zone edits
touch records no other test reads, live events are dated after the seeded days).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import update

from api.models import CameraReport
from tests.web.conftest import ROOT, WebEnv, screenshot
from tests.web.seed import DAY, INGEST_KEY, PASSWORD, SITE_A_DAY, SITE_A_WEEK_AGO, SITE_B_DAY, violation
from vision.config import ApiSinkConfig, ZoneConfig, load_config
from vision.runner import run
from vision.sinks import build_sinks

pytestmark = pytest.mark.e2e
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
expect = sync_api.expect

SEEDED_ORDER = ["v5", "v4", "b2", "v3", "v2", "b1", "v1", "w2", "w1"]  # newest first
CLIP_PLAYING = "() => { const v = document.getElementById('clip'); return v.readyState >= 2 && v.currentTime > 0.5; }"
SNAPSHOT_SHOWN = "() => { const i = document.getElementById('snapshot'); return i.complete && i.naturalWidth > 0; }"
THUMBS_SHOWN = "() => [...document.querySelectorAll('#worst img.thumb')].every(i => i.complete && i.naturalWidth > 0)"


def ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']")


def row_ids(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#queue-list li.row", "els => els.map(e => e.dataset.id)"))


def hourly(rows: list[tuple[Any, ...]]) -> list[int]:
    counts = [0] * 24
    for row in rows:
        counts[int(row[4][:2])] += 1
    return counts


def test_login_sets_the_session_cookie_and_returns_to_the_page(web: WebEnv, open_page: Any) -> None:
    page = open_page()
    page.log.expect_status(401)  # the wrong password
    page.goto(web.url + "/review?rule=dual_teller")
    expect(page).to_have_url(
        re.compile(r"/login\?next=/review%3Frule%3Ddual_teller$|/login\?next=/review\?rule=dual_teller$")
    )
    page.fill("#username", "op")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(web.url + "/review?rule=dual_teller")
    ready(page)
    expect(page.locator(".who-name")).to_have_text("op")
    expect(page.locator("#f-rule")).to_have_value("dual_teller")
    # the language toggle: both -> Chinese only -> English only, remembered across pages
    expect(page.locator("html")).to_have_class("lang-both")
    page.click("#lang-toggle")
    expect(page.locator("html")).to_have_class("lang-zh")
    expect(page.locator("nav.tabs a.active .en")).to_be_hidden()
    expect(page.locator("#f-rule option[value='dual_teller']")).to_have_text("双人临柜")
    page.click("#lang-toggle")
    page.goto(web.url + "/summary")
    expect(page.locator("html")).to_have_class("lang-en")
    expect(page.locator("nav.tabs a.active .zh")).to_be_hidden()
    page.goto(web.url + "/review")
    cookie = next(c for c in page.context.cookies() if c["name"] == "tw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "tw_session"]


def test_queue_lists_the_violations_newest_first_and_the_clip_plays(web: WebEnv, open_page: Any) -> None:
    page = open_page("op")
    page.goto(web.url + "/review")
    ready(page)
    ids = web.seeded.ids
    shown = row_ids(page)
    assert [i for i in shown if i in ids.values()] == [ids[n] for n in SEEDED_ORDER]
    expect(page.locator("#queue-total")).to_contain_text(f"{web.api('GET', '/violations', 'op')['total']} total")
    # the newest is selected; its annotated clip plays inline next to the snapshot
    expect(page.locator("#queue-list li.row.selected")).to_have_attribute("data-id", ids["v5"])
    expect(page.locator("#d-rule")).to_contain_text("非营业人员进入营业间")
    expect(page.locator("#d-rule")).to_contain_text("Non-staff in teller area")
    assert page.get_attribute("#clip", "src").endswith(f"/violations/{ids['v5']}/clip/annotated")
    page.wait_for_function(CLIP_PLAYING)
    assert page.evaluate("document.getElementById('clip').error") is None
    page.wait_for_function(SNAPSHOT_SHOWN)
    # the raw clip, from the Range-serving clip route, plays too
    page.click("#clip-variant button[data-variant='raw']")
    raw_src = f"/violations/{ids['v5']}/clip"
    page.wait_for_function(f"() => document.getElementById('clip').getAttribute('src').endsWith('{raw_src}')")
    page.wait_for_function("() => document.getElementById('clip').currentTime > 0.3")
    # keyboard: space pauses and resumes, j and k move through the queue
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('clip').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.getElementById('clip').paused")
    page.keyboard.press("j")
    expect(page.locator("#queue-list li.row.selected")).to_have_attribute("data-id", ids["v4"])
    page.keyboard.press("k")
    expect(page.locator("#queue-list li.row.selected")).to_have_attribute("data-id", ids["v5"])
    # filters narrow the list the way the API does
    page.select_option("#f-rule", "unattended_items")
    page.wait_for_function("() => [...document.querySelectorAll('#queue-list li.row')].length === 2")
    assert set(row_ids(page)) == {ids["v2"], ids["b2"]}
    for field in ("#f-date-from", "#f-date-to"):
        page.fill(field, "2026-11-19")
        page.dispatch_event(field, "change")
    expect(page.locator("#queue-empty")).to_be_visible()


def test_marking_false_positive_persists(web: WebEnv, open_page: Any) -> None:
    page = open_page("op")
    page.goto(web.url + "/review")
    ready(page)
    target = web.seeded.ids["v3"]
    page.click(f"#queue-list li.row[data-id='{target}']")
    expect(page.locator("#d-review")).to_contain_text("Unreviewed")
    page.fill("#note", "顾客递交表格 customer handed over a form")
    page.keyboard.press("Escape")  # leave the note box so the shortcut is a command, not text
    page.keyboard.press("f")
    expect(page.locator(f"#queue-list li.row[data-id='{target}'] .badge.rv-false_positive")).to_be_visible()
    # the queue moves on to the next violation
    expect(page.locator("#queue-list li.row.selected")).to_have_attribute("data-id", web.seeded.ids["v2"])
    stored = web.api("GET", f"/violations/{target}", "op")
    assert stored["review_status"] == "false_positive"
    assert stored["review_note"] == "顾客递交表格 customer handed over a form"
    assert stored["reviewed_by"] == "op"
    # and it is still so after a reload
    page.goto(web.url + f"/review?id={target}")
    ready(page)
    expect(page.locator("#d-review")).to_contain_text("False positive")
    expect(page.locator("#note")).to_have_value("顾客递交表格 customer handed over a form")
    # a button click marks too (acknowledge the open one), then the page is photographed
    page.click(f"#queue-list li.row[data-id='{web.seeded.ids['v4']}']")
    page.click("button.act-ack")
    expect(page.locator(f"#queue-list li.row[data-id='{web.seeded.ids['v4']}'] .badge.rv-acknowledged")).to_be_visible()
    assert web.api("GET", f"/violations/{web.seeded.ids['v4']}", "op")["review_status"] == "acknowledged"
    page.click(f"#queue-list li.row[data-id='{web.seeded.ids['v5']}']")
    page.wait_for_function(CLIP_PLAYING)
    page.wait_for_function(SNAPSHOT_SHOWN)
    page.mouse.move(5, 300)
    screenshot(page, "review")


def test_daily_summary_shows_the_counts_and_the_hourly_chart(web: WebEnv, open_page: Any) -> None:
    page = open_page("head-a")
    page.goto(web.url + f"/summary?date={DAY}")
    ready(page)
    expect(page.locator(".site-fixed")).to_contain_text("site-a")
    # false positives (other tests mark some) are counted apart, never in the headline or the chart
    false = {
        row[0] for row in SITE_A_DAY
        if web.api("GET", f"/violations/{web.seeded.ids[row[0]]}", "head-a")["review_status"] == "false_positive"
    }
    real = [row for row in SITE_A_DAY if row[0] not in false]
    expect(page.locator("#k-total")).to_have_text(str(len(real)))
    expect(page.locator("#k-fp")).to_have_text(str(len(false)))
    expect(page.locator("#k-total-wow")).to_contain_text(f"+{len(real) - len(SITE_A_WEEK_AGO)}")
    expect(page.locator("#k-longest")).to_have_text("40 s")
    expect(page.locator("#k-open")).to_have_text("1")
    by_rule = {r: 0 for r in ("dual_teller", "unattended_items", "non_staff_in_area")}
    by_camera: dict[str, int] = {}
    for row in real:
        by_rule[row[2]] += 1
        by_camera[row[1]] = by_camera.get(row[1], 0) + 1
    for rule, n in by_rule.items():
        expect(page.locator(f"#by-rule tr[data-rule='{rule}'] td.strong")).to_have_text(str(n))
    for camera, n in by_camera.items():
        expect(page.locator(f"#by-camera tr[data-camera='{camera}'] td.strong")).to_have_text(str(n))
    expect(page.locator("#by-rule tr[data-rule='dual_teller']")).to_contain_text("双人临柜")
    # the chart: 24 hour bars carrying the day's and the week-ago counts, one segment per rule
    bars = page.locator("#hourly svg g.bar")
    expect(bars).to_have_count(24)
    assert [int(x) for x in bars.evaluate_all("gs => gs.map(g => g.dataset.count)")] == hourly(real)
    assert [int(x) for x in bars.evaluate_all("gs => gs.map(g => g.dataset.weekAgo)")] == hourly(SITE_A_WEEK_AGO)
    rule_hours = {(int(r[4][:2]), r[2]) for r in real}
    expect(page.locator("#hourly svg rect.seg")).to_have_count(len(rule_hours))
    assert page.locator("#hourly svg text.val").all_text_contents() == [str(n) for n in hourly(real) if n]
    # shares reviewed / false positive as the API counts them now (other tests review records)
    summary = web.api("GET", f"/summaries/daily?date={DAY}", "head-a")
    reviewed = sum(r["reviewed"] for r in summary["rows"])
    fp = sum(r["false_positive"] for r in summary["rows"])
    assert fp == summary["false_positives"] == len(false)
    alerts = summary["total"] + fp
    expect(page.locator("#k-reviewed")).to_have_text(f"{round(100 * (reviewed + fp) / alerts)}%")
    expect(page.locator("#k-fp-n")).to_contain_text(f"{round(100 * fp / (reviewed + fp))}%" if reviewed + fp else "–")
    # worst incidents: longest first, with thumbnails from the snapshot route
    worst = page.locator("#worst li")
    expect(worst).to_have_count(5)
    assert worst.first.get_attribute("data-id") == web.seeded.ids["v4"]
    page.wait_for_function(THUMBS_SHOWN)
    screenshot(page, "summary")
    # CSV export is the API's, for the same day and scope
    href = page.get_attribute("#s-csv", "href")
    assert href is not None and "format=csv" in href and f"date={DAY}" in href
    got = page.context.request.get(web.url + href)
    assert got.ok and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text())))
    assert sum(int(r["count"]) for r in rows) == len(real) and {r["site"] for r in rows} == {"site-a"}
    # print: no app chrome, the report heading instead
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator(".toolbar-controls")).to_be_hidden()
    expect(page.locator("#print-meta")).to_have_text(f"site-a · {DAY}")
    expect(page.locator("#hourly svg g.bar")).to_have_count(24)
    page.emulate_media(media="screen")
    # the date picker: a week earlier
    page.fill("#s-date", "2026-11-19")
    page.dispatch_event("#s-date", "change")
    expect(page.locator("#k-total")).to_have_text(str(len(SITE_A_WEEK_AGO)))


def test_zone_editor_saves_a_dragged_point(web: WebEnv, open_page: Any) -> None:
    before = web.api("GET", "/cameras/counter-1/zones?site=site-a", "eng")
    page = open_page("eng")
    page.goto(web.url + "/zones?site=site-a&camera=counter-1")
    ready(page)
    expect(page.locator("#z-list li.zone-item")).to_have_count(len(before["zones"]))
    expect(page.locator("#z-list li.zone-item[data-name='teller_area'] .zi-live")).to_contain_text("2")
    expect(page.locator("#z-version")).to_contain_text("pipeline running it")
    page.wait_for_function("() => !!document.querySelector('#z-svg image.frame')")
    screenshot(page, "zones")
    svg_box = page.locator("#z-svg").bounding_box()
    handle = page.locator("#z-svg circle.handle[data-zone='0'][data-point='2']")
    box = handle.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dx, dy = 60, 35
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + dx / 2, y0 + dy / 2, steps=4)
    page.mouse.move(x0 + dx, y0 + dy, steps=4)
    page.mouse.up()
    page.wait_for_selector("body[data-dirty='1']")
    old = before["zones"][0]["polygon"][2]
    want = (old[0] + dx / svg_box["width"], old[1] + dy / svg_box["height"])
    page.click("#z-save")
    page.wait_for_selector(f"body[data-saved='{before['version'] + 1}']")
    after = web.api("GET", "/cameras/counter-1/zones?site=site-a", "eng")
    assert after["version"] == before["version"] + 1 and after["updated_by"] == "eng"
    moved = after["zones"][0]["polygon"][2]
    assert moved == pytest.approx(list(want), abs=0.004)
    for i, zone in enumerate(after["zones"]):
        assert ZoneConfig.model_validate(zone).name == before["zones"][i]["name"]
        if i:
            assert zone["polygon"] == before["zones"][i]["polygon"]
    # a pipeline that has not yet polled is shown as behind
    expect(page.locator("#z-version")).to_contain_text("will pick it up")


def test_zone_editor_points_zones_and_errors_in_place(web: WebEnv, open_page: Any) -> None:
    page = open_page("eng")
    page.log.expect_status(422)  # the refused name
    page.goto(web.url + "/zones?site=site-a&camera=counter-2")
    ready(page)
    expect(page.locator("#z-list li.empty")).to_be_visible()  # no zones yet on this camera
    page.click("#z-add")
    handles = page.locator("#z-svg circle.handle")
    expect(handles).to_have_count(4)
    # click on an edge adds a point there
    a = page.locator("#z-svg circle.handle[data-point='0']").bounding_box()
    b = page.locator("#z-svg circle.handle[data-point='1']").bounding_box()
    page.mouse.click((a["x"] + b["x"]) / 2 + a["width"] / 2, (a["y"] + b["y"]) / 2 + a["height"] / 2)
    expect(handles).to_have_count(5)
    # right click deletes one; select + Delete deletes another
    page.locator("#z-svg circle.handle[data-point='1']").click(button="right")
    expect(handles).to_have_count(4)
    page.locator("#z-svg circle.handle[data-point='3']").click()
    page.keyboard.press("Delete")
    expect(handles).to_have_count(3)
    page.keyboard.press("Control+z")
    expect(handles).to_have_count(4)
    # kind and name; a bad name is refused by the API's ZoneConfig and shown on that zone
    item = page.locator("#z-list li.zone-item").first
    anchor = page.locator("#z-svg .zone-label text.anchor").first
    expect(anchor).to_have_attribute("data-anchor", "bottom_center")  # a new zone is generic: feet
    item.locator("select.zi-kind").select_option("teller_area")
    expect(anchor).to_have_attribute("data-anchor", "center_or_bottom")  # the point tested follows the kind
    item.locator("select.zi-kind").select_option("door")
    expect(anchor).to_have_attribute("data-anchor", "bottom_center")
    item.locator("input.zi-name").fill("back door")
    page.click("#z-save")
    expect(page.locator("#z-list li.zone-item.invalid .zi-error")).to_contain_text("name")
    expect(page.locator("#z-error")).to_be_visible()
    assert web.api("GET", "/cameras/counter-2/zones?site=site-a", "eng")["zones"] == []
    item = page.locator("#z-list li.zone-item").first
    item.locator("input.zi-name").fill("back_door")
    page.click("#z-save")
    page.wait_for_selector("body[data-saved]")
    saved = web.api("GET", "/cameras/counter-2/zones?site=site-a", "eng")["zones"]
    assert [(z["name"], z["kind"], len(z["polygon"])) for z in saved] == [("back_door", "door", 4)]
    ZoneConfig.model_validate(saved[0])
    expect(page.locator("#z-list li.zone-item.invalid")).to_have_count(0)


def test_branch_head_sees_only_their_own_site(web: WebEnv, open_page: Any) -> None:
    ids, site_of = web.seeded.ids, web.seeded.site_of
    page = open_page("head-b")
    page.goto(web.url + "/review")
    ready(page)
    shown = set(row_ids(page))
    assert {ids[n] for n, _, *_ in SITE_B_DAY} <= shown
    assert not shown & {i for n, i in ids.items() if site_of[n] != "site-b"}
    expect(page.locator("#f-site")).to_have_count(0)
    # a link to another site's violation shows nothing of it
    page.log.expect_status(404)
    page.goto(web.url + f"/review?id={ids['v1']}")
    ready(page)
    expect(page.locator(".toast.error")).to_contain_text("not found")
    assert ids["v1"] not in row_ids(page)
    expect(page.locator("#queue-list li.row.selected")).not_to_have_attribute("data-id", ids["v1"])
    # the summary is theirs alone, and the zone editor is not for them
    page.goto(web.url + f"/summary?date={DAY}")
    ready(page)
    expect(page.locator("#k-total")).to_have_text(str(len(SITE_B_DAY)))
    expect(page.locator("#s-site")).to_have_count(0)
    page.log.expect_status(403)
    response = page.goto(web.url + "/zones")
    assert response is not None and response.status == 403
    expect(page.locator(".message-card")).to_contain_text("Not available to your role")
    expect(page.locator("nav.tabs a")).to_have_count(2)
    # engineers may look at the queue but not review (the API answers 403 to their PATCH)
    eng = open_page("eng")
    eng.goto(web.url + "/review")
    ready(eng)
    expect(eng.locator("button.act")).to_have_count(3)
    for button in eng.locator("button.act").all():
        expect(button).to_be_disabled()
    expect(eng.locator("#review-readonly")).to_be_visible()


def test_new_violations_appear_live_for_those_who_may_see_them(web: WebEnv, open_page: Any) -> None:
    op = open_page("op")
    head_b = open_page("head-b")
    for page in (op, head_b):
        page.goto(web.url + "/review")
        ready(page)
        expect(page.locator("#live-status")).to_have_class(re.compile(r"\bon\b"))
    new_a = violation("live-a", "site-a", "counter-1", "dual_teller", "teller_area", "2026-11-28T09:10:00+08:00", 9.0)
    new_b = violation(
        "live-b", "site-b", "hall-1", "non_staff_in_area", "teller_area", "2026-11-28T09:11:00+08:00", 3.0, ended=False
    )
    web.seeder.push(new_a)
    web.seeder.push(new_b)
    for page in (op, head_b):
        expect(page.locator(f"#queue-list li.row.unseen[data-id='{new_b['id']}']")).to_be_visible()
    expect(op.locator(f"#queue-list li.row.unseen[data-id='{new_a['id']}']")).to_be_visible()
    assert row_ids(op)[:2] == [new_b["id"], new_a["id"]]
    assert int(op.get_attribute("#queue-list", "data-beeps") or 0) >= 1
    head_b.wait_for_timeout(300)
    assert new_a["id"] not in row_ids(head_b)


def test_review_page_lists_camera_status(web: WebEnv, open_page: Any) -> None:
    """A camera whose pipeline reports it down (it never delivered a frame) shows in the review page's
    camera list, as do the others with their status."""
    for camera, status in (("silent-cam", "down"), ("counter-1", "up")):
        r = web.seeder.http.post("/api/v1/metrics/pipeline", headers=web.seeder.key,
                                 json={"site": "site-a", "camera": camera, "interval_s": 5, "status": status})
        assert r.status_code == 204, r.text
    try:
        page = open_page("op")
        page.goto(web.url + "/review")
        ready(page)
        down = page.locator("#camera-status li[data-camera='silent-cam']")
        expect(down).to_have_attribute("data-status", "down")
        expect(down).to_contain_text("离线")
        expect(down).to_contain_text("Down")
        expect(page.locator("#camera-status li[data-camera='counter-1']")).to_have_attribute("data-status", "up")
    finally:
        with web.app.state.db.session() as session:  # other tests expect no reported status
            session.execute(update(CameraReport).values(status=None, status_at=None))
            session.commit()


def test_audit_trail_page_lists_filters_and_exports_for_admins_only(web: WebEnv, open_page: Any) -> None:
    """Logins (ok and failed), a clip view and a printed summary show up on the admin's page."""
    import httpx

    with httpx.Client(base_url=web.url) as http:
        assert http.post("/api/v1/auth/login", json={"username": "op", "password": "wrong!"}).status_code == 401
    vid = web.seeded.ids["v1"]
    head = open_page("head-a")
    assert head.context.request.get(web.url + f"/api/v1/violations/{vid}/snapshot").ok
    head.goto(web.url + "/summary?date=" + DAY)
    head.wait_for_selector("body[data-ready='1']")
    head.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    head.wait_for_timeout(300)

    page = open_page("adm")
    page.goto(web.url + "/audit")
    ready(page)
    expect(page.locator("nav.tabs a.active")).to_contain_text("审计日志")
    # filtered by action, since other tests' rows may fill the first page
    for action, who, text in (("login_failed", "op", "登录失败"), ("login", "adm", "登录成功"),
                              ("print_summary", "head-a", "打印汇总")):
        page.select_option("#a-action", action)
        ready(page)
        row = page.locator(f"#a-table tbody tr[data-action='{action}']").first
        expect(row).to_contain_text(who)
        expect(row).to_contain_text(text)
    page.select_option("#a-action", "view_snapshot")
    ready(page)
    page.fill("#a-user", "head-a")
    page.click("#a-filters button[type='submit']")
    ready(page)
    rows = page.locator("#a-table tbody tr")
    expect(rows.first).to_contain_text("head-a")
    assert set(page.eval_on_selector_all("#a-table tbody tr", "els => els.map(e => e.dataset.action)")) == {
        "view_snapshot"
    }
    href = page.get_attribute("#a-csv", "href")
    assert href is not None and "format=csv" in href and "action=view_snapshot" in href and "user=head-a" in href
    got = page.context.request.get(web.url + href)
    table = list(csv.reader(io.StringIO(got.text())))
    assert got.ok and table[0][:5] == ["at", "user", "role", "ip", "action"]
    assert {r[4] for r in table[1:]} == {"view_snapshot"} and {r[1] for r in table[1:]} == {"head-a"}
    page.click("#a-clear")
    ready(page)
    screenshot(page, "audit")
    # nobody else sees the page or its tab
    op = open_page("op")
    op.log.expect_status(403)
    op.goto(web.url + "/review")
    ready(op)
    assert op.locator("nav.tabs a[href='/audit']").count() == 0
    r = op.goto(web.url + "/audit")
    assert r is not None and r.status == 403


def test_review_thumbnails_enlarged_snapshot_downloads_and_player_start(web: WebEnv, open_page: Any) -> None:
    page = open_page("op")
    ids = web.seeded.ids
    page.goto(web.url + f"/review?id={ids['v5']}")  # live tests may have filed newer ones
    ready(page)
    expect(page.locator("#queue-list li.row.selected")).to_have_attribute("data-id", ids["v5"])
    # every row has a thumbnail of its snapshot; those in view have loaded (the rest load lazily)
    page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('#queue-list li.row img.row-thumb')];"
        " const shown = t.filter(i => i.getBoundingClientRect().bottom <= window.innerHeight);"
        " return t.length >= 9 && shown.length >= 6 && shown.every(i => i.complete && i.naturalWidth > 0); }"
    )
    # the player starts at the violation (clip_pre_s = 1.0 s in), not at the pre-roll, and never loops
    page.wait_for_function(
        "() => { const v = document.getElementById('clip'); return v.readyState >= 1 && v.currentTime >= 0.95; }"
    )
    assert page.evaluate("document.getElementById('clip').loop") is False
    page.evaluate("document.getElementById('clip').currentTime = 0.2")  # the pre-roll is reachable
    page.wait_for_function("() => document.getElementById('clip').currentTime < 0.95")
    page.evaluate("document.getElementById('clip').play()")
    # at the end the player rests on the violation's start, paused, instead of looping into the pre-roll
    page.wait_for_function(
        "() => { const v = document.getElementById('clip');"
        " return v.paused && v.played.length > 0 && Math.abs(v.currentTime - 1.0) < 0.15; }",
        timeout=20_000,
    )
    # downloads answer with Content-Disposition: attachment; the "blurred" twins ask for privacy=blur
    for link, kind in (("#clip-download", "clip"), ("#snap-download", "snapshot"),
                       ("#clip-download-blurred", "clip"), ("#snap-download-blurred", "snapshot")):
        href = page.get_attribute(link, "href")
        assert href and "download=1" in href and ids["v5"] in href, href
        assert ("privacy=blur" in href) == link.endswith("-blurred"), href
        r = page.request.get(href if href.startswith("http") else web.url + href)
        assert r.ok, (kind, r.status)
        assert r.headers["content-disposition"].startswith("attachment;"), r.headers
        assert (".blurred." in r.headers["content-disposition"]) == link.endswith("-blurred"), r.headers
    inline = page.request.get(web.url + f"/api/v1/violations/{ids['v5']}/snapshot")
    assert inline.headers["content-disposition"].startswith("inline;")
    # click the snapshot: it opens enlarged; Escape closes it
    page.wait_for_function(SNAPSHOT_SHOWN)
    small = page.locator("#snapshot").bounding_box()
    page.click("#snap-open")
    expect(page.locator("#lightbox")).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.getElementById('lightbox-img'); return i.complete && i.naturalWidth > 0; }"
    )
    big = page.locator("#lightbox-img").bounding_box()
    assert big is not None and small is not None and big["width"] > 1.8 * small["width"], (small, big)
    expect(page.locator("#lightbox-caption")).to_contain_text("Non-staff")
    screenshot(page, "review-snapshot")
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_be_hidden()


def test_pipeline_frames_reach_the_zone_editor(
    web: WebEnv, open_page: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real pipeline with an API sink uploads its latest frame; the open zone editor shows it
    without a reload, and asks for no frame (no 404) while none exists."""
    site, camera = "site-c", "quiet-1"
    rec = violation("q1", site, camera, "dual_teller", "teller_area", "2026-01-05T09:00:00+08:00", 6.0,
                    min_staff_seen=1, min_staff=2)
    r = web.seeder.http.post("/api/v1/events", headers=web.seeder.key, json=rec)
    r.raise_for_status()
    page = open_page("eng")
    page.goto(web.url + f"/zones?site={site}&camera={camera}")
    ready(page)
    expect(page.locator("#z-frame-info")).to_contain_text("no frame yet")
    assert page.locator("#z-svg image.frame").count() == 0

    scene = ROOT / "sample_videos" / "scenes" / "busy_counter.yaml"
    app = load_config(scene)
    # the engineer has drawn the camera's zones already (the ones its config uses)
    zones = [z.model_dump(mode="json", exclude_none=True) for z in app.cameras[0].zones]
    web.api("PUT", f"/cameras/{camera}/zones?site={site}", "adm", json={"zones": zones})
    monkeypatch.setenv("TELLERWATCH_WEB_TEST_KEY", INGEST_KEY)
    sinks_cfg = app.sinks.model_copy(update={"api": ApiSinkConfig(url=web.url, key_env="TELLERWATCH_WEB_TEST_KEY")})
    app = app.model_copy(update={
        "site": app.site.model_copy(update={"id": site}),
        "sinks": sinks_cfg,
        "cameras": [app.cameras[0].model_copy(update={"id": camera})],
    })
    sinks = build_sinks(app.sinks, tmp_path)
    try:
        run(app, data_dir=tmp_path, clips=False, max_seconds=1.5, sinks=sinks, status_interval_s=0.5)
    finally:
        for sink in sinks:
            sink.close()
    shown = web.api("GET", f"/cameras/{camera}/zones?site={site}", "eng")
    assert shown["frame_at"] is not None and shown["live_at"] is not None
    assert shown["live"]["teller_area"]["staff"] >= 1  # the counts of the same run
    # the page polls and shows the new frame (1280x720 scaled to the upload size) with its time
    page.wait_for_function("() => !!document.querySelector('#z-svg image.frame')", timeout=15_000)
    expect(page.locator("#z-frame-info")).to_contain_text("live frame")
    expect(page.locator("#z-frame-info .frame-at")).not_to_be_empty()
    expect(page.locator("#z-frame-info .live-at")).not_to_be_empty()
    snap = page.request.get(web.url + f"/api/v1/cameras/{camera}/snapshot?site={site}")
    assert snap.ok and snap.headers["content-type"] == "image/jpeg"
    screenshot(page, "zones-live")
