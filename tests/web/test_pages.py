"""The page shells and the API additions the pages rely on, over HTTP without a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from api.web.pages import CSP, safe_next
from tests.web.conftest import WebEnv
from tests.web.seed import INGEST_KEY, PASSWORD, ZONES_COUNTER_1, violation


@pytest.fixture
def http(web: WebEnv) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=10, follow_redirects=False) as client:
        yield client


def login(http: httpx.Client, username: str) -> None:
    r = http.post("/api/v1/auth/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200
    assert "tw_session" in http.cookies


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_styles = 0
        self.handlers = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
        self.inline_styles += "style" in a
        self.handlers += any(k.startswith("on") for k in a)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/review", "/review"),
        ("/review?rule=dual_teller&id=x", "/review?rule=dual_teller&id=x"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/review\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_safe_next_keeps_the_login_redirect_on_this_site(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


@pytest.mark.parametrize("path", ["/", "/review", "/summary?date=2026-11-26", "/zones"])
def test_pages_send_anonymous_visitors_to_the_login_page(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/")
    assert r.headers["cache-control"] == "no-store"


def test_a_stale_cookie_is_dropped_on_the_way_to_the_login_page(http: httpx.Client) -> None:
    http.cookies.set("tw_session", "not.a-token")
    r = http.get("/summary")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/summary"
    assert 'tw_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    ("username", "home"),
    [("op", "/review"), ("head-a", "/summary"), ("eng", "/zones"), ("adm", "/review")],
)
def test_home_is_the_page_of_each_role(http: httpx.Client, username: str, home: str) -> None:
    login(http, username)
    r = http.get("/")
    assert r.status_code == 303 and r.headers["location"] == home


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("op", {"review": 200, "summary": 200, "zones": 403}),
        ("head-a", {"review": 200, "summary": 200, "zones": 403}),
        ("eng", {"review": 200, "summary": 200, "zones": 200}),
        ("adm", {"review": 200, "summary": 200, "zones": 200}),
    ],
)
def test_pages_follow_the_role_matrix(http: httpx.Client, username: str, expected: dict[str, int]) -> None:
    login(http, username)
    for page, status in expected.items():
        r = http.get(f"/{page}")
        assert r.status_code == status, (page, r.status_code)
        assert r.headers["content-security-policy"] == CSP
        nav = set(re.findall(r'<nav class="tabs".*?</nav>', r.text, re.S)[0].split('href="')[1:])
        assert any(n.startswith("/zones") for n in nav) == (expected["zones"] == 200)


@pytest.mark.parametrize("page", ["login", "review", "summary", "zones"])
def test_pages_hold_no_inline_script_style_or_handler(http: httpx.Client, page: str) -> None:
    """Everything runs under a CSP without 'unsafe-inline'; the boot data is JSON, not script."""
    if page != "login":
        login(http, "adm")
    html = http.get(f"/{page}").text
    parsed = Scripts()
    parsed.feed(html)
    for attrs in parsed.scripts:
        assert (attrs.get("src") or "").startswith("/static/") or attrs.get("type") == "application/json", attrs
    assert parsed.inline_styles == 0 and parsed.handlers == 0
    for ref in re.findall(r'(?:src|href)="([^"#]+)', html):
        assert ref.startswith("/") and not ref.startswith("//"), ref  # nothing from outside the app
        if ref.startswith("/static/"):
            assert http.get(ref).status_code == 200, ref


def test_boot_data_is_escaped_json(http: httpx.Client) -> None:
    html = http.get("/login?next=/review%3C/script%3E%3Cscript%3Ealert(1)%3C/script%3E").text
    assert "<script>alert(1)" not in html
    boot = re.search(r'<script type="application/json" id="tw-boot">(.*?)</script>', html, re.S)
    assert boot is not None and "\\u003c" in boot.group(1)


def test_login_page_for_a_logged_in_user_goes_on(http: httpx.Client) -> None:
    login(http, "op")
    r = http.get("/login", params={"next": "/summary"})
    assert r.status_code == 303 and r.headers["location"] == "/summary"


# ------------------------------------------------------------------------------ annotated clip
def test_annotated_clip_is_served_with_ranges_and_site_scoping(web: WebEnv, http: httpx.Client) -> None:
    vid = web.seeded.ids["v2"]  # site-a
    url = f"/api/v1/violations/{vid}/clip/annotated"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"X-API-Key": INGEST_KEY}).status_code == 403
    for who in ("op", "eng", "head-a"):
        r = http.get(url, headers={**web.auth(who), "Range": "bytes=0-99"})
        assert r.status_code == 206, who
        assert r.headers["content-type"] == "video/mp4" and len(r.content) == 100 and r.content[4:8] == b"ftyp"
    assert http.get(url, headers=web.auth("head-b")).status_code == 404
    full = http.get(url, headers=web.auth("op"))
    raw = http.get(f"/api/v1/violations/{vid}/clip", headers=web.auth("op"))
    assert full.status_code == raw.status_code == 200 and full.content != raw.content


@pytest.mark.parametrize(
    ("name", "clip_annotated"),
    [
        ("none", None),
        ("missing", "evidence/counter-1/{id}.annotated.mp4"),
        ("another-violation", "evidence/counter-1/someone-else.annotated.mp4"),
        ("climbs", "../../../etc/passwd"),
        ("absolute", "/etc/passwd"),
        ("not-a-path", 42),
    ],
)
def test_annotated_clip_absent_or_outside_the_evidence_folder_is_404(
    web: WebEnv, http: httpx.Client, name: str, clip_annotated: Any
) -> None:
    start = "2026-11-27T09:00:00+08:00"
    rec = violation(f"ann-{name}", "site-a", "counter-1", "dual_teller", "teller_area", start, 5.0)
    if clip_annotated is not None:
        rec["details"]["clip_annotated"] = (
            clip_annotated.format(id=rec["id"]) if isinstance(clip_annotated, str) else clip_annotated
        )
    r = http.post("/api/v1/events", headers={"X-API-Key": INGEST_KEY}, json=rec)
    # a pointer to anything but the violation's own file is refused at the door
    assert r.status_code in ((200, 201) if name in ("none", "missing") else (422,)), r.text
    if r.status_code == 422:
        return
    got = http.get(f"/api/v1/violations/{rec['id']}/clip/annotated", headers=web.auth("op"))
    assert got.status_code == 404


def test_annotated_clip_that_is_not_an_mp4_is_404(web: WebEnv, http: httpx.Client) -> None:
    rec = violation("notmp4", "site-a", "counter-1", "dual_teller", "teller_area", "2026-11-27T10:00:00+08:00", 5.0)
    rel = f"counter-1/{rec['id']}.annotated.mp4"
    (web.settings.evidence_path / rel).write_bytes(b"<html>not a video</html>")
    rec["details"]["clip_annotated"] = f"evidence/{rel}"
    assert http.post("/api/v1/events", headers={"X-API-Key": INGEST_KEY}, json=rec).status_code in (200, 201)
    assert http.get(f"/api/v1/violations/{rec['id']}/clip/annotated", headers=web.auth("op")).status_code == 404


# ------------------------------------------------------------------------------ zone polling
def test_pipeline_polls_zones_with_etag_and_reports_the_version_it_runs(web: WebEnv, http: httpx.Client) -> None:
    """The hot-reload contract: GET with If-None-Match answers 304 until an editor saves."""
    key = {"X-API-Key": INGEST_KEY}
    path, site = "/api/v1/cameras/poll-cam/zones", {"site": "site-poll"}
    put = http.put(path, params=site, headers=web.auth("eng"), json={"zones": ZONES_COUNTER_1[:1]})
    assert put.status_code == 200
    first = http.get(path, params=site, headers=key)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    etag = first.headers["etag"]
    assert etag == put.headers["etag"] and etag.startswith('W/"zones-')
    assert first.json()["applied_version"] is None
    same = http.get(path, params=site, headers={**key, "If-None-Match": etag})
    assert same.status_code == 304 and same.headers["etag"] == etag and same.content == b""
    # live counts change nothing for the poller
    metrics = {
        "site": "site-poll",
        "camera": "poll-cam",
        "interval_s": 5,
        "zones_version": first.json()["version"],
        "zones": {"teller_area": {"persons": 1, "staff": 1}},
    }
    assert http.post("/api/v1/metrics/pipeline", headers=key, json=metrics).status_code == 204
    assert http.get(path, params=site, headers={**key, "If-None-Match": etag}).status_code == 304
    shown = http.get(path, params=site, headers=web.auth("eng")).json()
    assert shown["applied_version"] == first.json()["version"] and shown["live"]["teller_area"]["persons"] == 1
    # an editor saves: the next poll gets the new zones and a new tag
    saved = http.put(path, params=site, headers={**web.auth("eng"), "If-Match": etag}, json={"zones": ZONES_COUNTER_1})
    assert saved.status_code == 200
    changed = http.get(path, params=site, headers={**key, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["version"] == first.json()["version"] + 1 and len(changed.json()["zones"]) == 4
    # a save based on the old version is refused instead of overwriting the newer one
    stale = http.put(path, params=site, headers={**web.auth("eng"), "If-Match": etag}, json={"zones": []})
    assert stale.status_code == 412 and "changed since you loaded them" in stale.json()["detail"]
    assert len(http.get(path, params=site, headers=key).json()["zones"]) == 4
