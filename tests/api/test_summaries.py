"""GET /summaries/daily: counts, durations, review counts and the local-time hour profile."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import seed_from_config
from tests.api.helpers import INGEST_KEY, ended, record
from vision.config import parse_config

KEY = {"X-API-Key": INGEST_KEY}


def post(client: TestClient, rec: dict[str, Any]) -> dict[str, Any]:
    assert client.post("/api/v1/events", json=rec, headers=KEY).status_code in (200, 201)
    return rec


@pytest.fixture
def day(client: TestClient, users: Any) -> list[dict[str, Any]]:
    recs = [
        # 01:30 local on the 26th is 17:30 UTC on the 25th: it belongs to the 26th, hour 1
        ended(record(started_at="2026-11-26T01:30:00+08:00"), "2026-11-26T01:30:20+08:00", 20),
        ended(record(started_at="2026-11-26T09:15:00+08:00"), "2026-11-26T09:16:00+08:00", 60),
        record(started_at="2026-11-26T09:45:00+08:00", duration_s=5),
        ended(
            record(rule="non_staff_in_area", started_at="2026-11-26T23:59:00+08:00"),
            "2026-11-27T00:00:10+08:00",
            70,
        ),
        ended(
            record(camera="counter-2", started_at="2026-11-26T14:00:00+08:00"),
            "2026-11-26T14:00:30+08:00",
            30,
        ),
        ended(record(site="site-b", started_at="2026-11-26T10:00:00+08:00"), "2026-11-26T10:00:30+08:00", 30),
        ended(record(started_at="2026-11-27T09:00:00+08:00"), "2026-11-27T09:00:30+08:00", 30),  # next day
    ]
    for r in recs:
        post(client, r)
    op = users.headers("operator")
    client.patch(f"/api/v1/violations/{recs[1]['id']}", json={"review_status": "false_positive"}, headers=op)
    client.patch(f"/api/v1/violations/{recs[0]['id']}", json={"review_status": "true_positive"}, headers=op)
    return recs


def test_daily_json(client: TestClient, users: Any, day: list[dict[str, Any]]) -> None:
    r = client.get(
        "/api/v1/summaries/daily",
        params={"date": "2026-11-26", "site": "site-a"},
        headers=users.headers("operator"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    # recs[1] is a false positive: counted apart, never in the total
    assert body["total"] == 4 and body["false_positives"] == 1 and body["site"] == "site-a"
    assert (body["period"], body["start"], body["end"]) == ("day", "2026-11-26", "2026-11-26")
    rows = {(x["camera"], x["rule"]): x for x in body["rows"]}
    assert set(rows) == {
        ("counter-1", "dual_teller"),
        ("counter-1", "non_staff_in_area"),
        ("counter-2", "dual_teller"),
    }
    dual = rows[("counter-1", "dual_teller")]
    assert dual["count"] == 2
    assert dual["total_duration_s"] == pytest.approx(25)
    assert dual["longest_duration_s"] == pytest.approx(20)
    assert (dual["open"], dual["reviewed"], dual["false_positive"]) == (1, 1, 1)
    expected = [0] * 24
    expected[1], expected[9] = 1, 1
    assert dual["hourly"] == expected
    assert rows[("counter-1", "non_staff_in_area")]["hourly"][23] == 1


def test_all_sites(client: TestClient, users: Any, day: list[dict[str, Any]]) -> None:
    body = client.get(
        "/api/v1/summaries/daily", params={"date": "2026-11-26"}, headers=users.headers("admin")
    ).json()
    assert body["total"] == 5 and {r["site"] for r in body["rows"]} == {"site-a", "site-b"}


def test_daily_csv(client: TestClient, users: Any, day: list[dict[str, Any]]) -> None:
    r = client.get(
        "/api/v1/summaries/daily",
        params={"date": "2026-11-26", "site": "site-a", "format": "csv"},
        headers=users.headers("operator"),
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert len(table) == 3
    dual = next(x for x in table if x["camera"] == "counter-1" and x["rule"] == "dual_teller")
    assert (
        dual["count"] == "2" and dual["h09"] == "1" and dual["h01"] == "1" and dual["false_positive"] == "1"
    )
    assert dual["longest_duration_s"] == "20.000" and dual["date"] == "2026-11-26"
    assert (dual["period"], dual["start"], dual["end"]) == ("day", "2026-11-26", "2026-11-26")


def test_empty_day_and_bad_params(client: TestClient, users: Any) -> None:
    h = users.headers("operator")
    body = client.get("/api/v1/summaries/daily", params={"date": "2020-01-01"}, headers=h).json()
    assert body == {
        "date": "2020-01-01",
        "site": None,
        "period": "day",
        "start": "2020-01-01",
        "end": "2020-01-01",
        "rows": [],
        "total": 0,
        "false_positives": 0,
        "by_rule": [],
        "days": [{"date": "2020-01-01", "count": 0, "false_positives": 0}],
    }
    assert client.get("/api/v1/summaries/daily", params={"date": "26/11/2026"}, headers=h).status_code == 422
    assert client.get("/api/v1/summaries/daily", params={"format": "xls"}, headers=h).status_code == 422
    assert client.get("/api/v1/summaries/daily", params={"period": "year"}, headers=h).status_code == 422
    assert client.get("/api/v1/summaries/daily", headers=h).status_code == 200  # today: nothing stored


def test_site_time_zone_from_config_wins(client: TestClient, users: Any, tmp_path: Path) -> None:
    """With a config the site's IANA zone places the hour, even if a record carries UTC times."""
    cfg = parse_config(
        "site: {id: site-tz, timezone: Asia/Shanghai}\n"
        "cameras: [{id: cam-1, source: 0, zones: [{name: teller_area, kind: teller_area, "
        "polygon: [[0,0],[1,0],[1,1]]}]}]\n",
        base_dir=tmp_path,
    )
    seed_from_config(client.app.state.db, cfg)  # type: ignore[attr-defined]
    post(client, record(site="site-tz", camera="cam-1", started_at="2026-11-25T17:30:00+00:00"))
    body = client.get(
        "/api/v1/summaries/daily",
        params={"date": "2026-11-26", "site": "site-tz"},
        headers=users.headers("operator"),
    ).json()
    assert body["total"] == 1 and body["rows"][0]["hourly"][1] == 1
    zones = client.get("/api/v1/cameras/cam-1/zones", headers=users.headers("engineer")).json()
    assert (
        zones["version"] == 1
        and zones["zones"][0]["name"] == "teller_area"
        and zones["updated_by"] == "config"
    )


def test_week_and_month_add_up_the_days(client: TestClient, users: Any, day: list[dict[str, Any]]) -> None:
    h = users.headers("operator")
    days = {
        d: client.get("/api/v1/summaries/daily", params={"date": d, "site": "site-a"}, headers=h).json()
        for d in ("2026-11-26", "2026-11-27")
    }
    # 2026-11-26 is a Thursday: its ISO week runs Monday 23rd to Sunday 29th
    periods = (("week", "2026-11-23", "2026-11-29", 7), ("month", "2026-11-01", "2026-11-30", 30))
    for period, start, end, n_days in periods:
        body = client.get(
            "/api/v1/summaries/daily", params={"date": "2026-11-26", "site": "site-a", "period": period}, headers=h
        ).json()
        assert (body["period"], body["start"], body["end"], body["date"]) == (period, start, end, "2026-11-26")
        assert body["total"] == sum(d["total"] for d in days.values()) == 5
        assert body["false_positives"] == 1
        assert len(body["days"]) == n_days and body["days"][0]["date"] == start
        per_day = {d["date"]: (d["count"], d["false_positives"]) for d in body["days"]}
        assert per_day["2026-11-26"] == (4, 1) and per_day["2026-11-27"] == (1, 0)
        hours = [sum(r["hourly"][i] for r in body["rows"]) for i in range(24)]
        assert sum(hours) == body["total"] and hours[9] == 2  # 09:15 is the false positive
    csv_week = client.get(
        "/api/v1/summaries/daily",
        params={"date": "2026-11-26", "site": "site-a", "period": "week", "format": "csv"},
        headers=h,
    )
    assert 'filename="tellerwatch-site-a-week-2026-11-23.csv"' in csv_week.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(csv_week.text)))
    assert sum(int(r["count"]) for r in table) == 5 and sum(int(r["false_positive"]) for r in table) == 1
    assert {r["period"] for r in table} == {"week"}


def test_without_a_date_the_latest_day_the_caller_may_see(
    client: TestClient, users: Any, day: list[dict[str, Any]]
) -> None:
    post(client, ended(record(site="site-b", started_at="2026-11-30T10:00:00+08:00"), "2026-11-30T10:00:30+08:00", 30))
    op = client.get("/api/v1/summaries/daily", headers=users.headers("operator")).json()
    assert op["date"] == "2026-11-30" and op["total"] == 1
    # the head of site-a does not see site-b's later day: theirs is the 27th
    head = client.get("/api/v1/summaries/daily", headers=users.headers("bh_a")).json()
    assert head["date"] == "2026-11-27" and head["site"] == "site-a" and head["total"] == 1
    week = client.get("/api/v1/summaries/daily", params={"period": "week"}, headers=users.headers("bh_a")).json()
    assert (week["date"], week["start"], week["total"]) == ("2026-11-27", "2026-11-23", 5)


def test_median_time_from_alert_to_review_per_rule(client: TestClient, users: Any) -> None:
    recs = [post(client, record(started_at=f"2026-11-26T1{i}:00:00+08:00")) for i in range(3)]
    recs.append(post(client, record(rule="non_staff_in_area", started_at="2026-11-26T15:00:00+08:00")))
    op = users.headers("operator")
    for r in recs[:3]:
        r_ = client.patch(f"/api/v1/violations/{r['id']}", json={"review_status": "true_positive"}, headers=op)
        assert r_.status_code == 200
    # set the arrival and review times the median is computed from: 60 s, 120 s and 600 s
    from datetime import UTC, datetime, timedelta

    from api.models import Violation

    base = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        for r, wait in zip(recs[:3], (60, 120, 600), strict=True):
            row = s.get(Violation, r["id"])
            assert row is not None
            row.created_at = base
            row.reviewed_at = base + timedelta(seconds=wait)
        s.commit()
    body = client.get("/api/v1/summaries/daily", params={"date": "2026-11-26"}, headers=op).json()
    by_rule = {r["rule"]: r for r in body["by_rule"]}
    assert by_rule["dual_teller"]["median_review_s"] == pytest.approx(120)
    assert by_rule["dual_teller"]["reviewed"] == 3 and by_rule["dual_teller"]["count"] == 3
    assert by_rule["non_staff_in_area"]["median_review_s"] is None
