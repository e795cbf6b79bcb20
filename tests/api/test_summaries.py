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
    assert body["total"] == 5 and body["site"] == "site-a"
    rows = {(x["camera"], x["rule"]): x for x in body["rows"]}
    assert set(rows) == {
        ("counter-1", "dual_teller"),
        ("counter-1", "non_staff_in_area"),
        ("counter-2", "dual_teller"),
    }
    dual = rows[("counter-1", "dual_teller")]
    assert dual["count"] == 3
    assert dual["total_duration_s"] == pytest.approx(85)
    assert dual["longest_duration_s"] == pytest.approx(60)
    assert (dual["open"], dual["reviewed"], dual["false_positive"]) == (1, 2, 1)
    expected = [0] * 24
    expected[1], expected[9] = 1, 2
    assert dual["hourly"] == expected
    assert rows[("counter-1", "non_staff_in_area")]["hourly"][23] == 1


def test_all_sites(client: TestClient, users: Any, day: list[dict[str, Any]]) -> None:
    body = client.get(
        "/api/v1/summaries/daily", params={"date": "2026-11-26"}, headers=users.headers("admin")
    ).json()
    assert body["total"] == 6 and {r["site"] for r in body["rows"]} == {"site-a", "site-b"}


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
        dual["count"] == "3" and dual["h09"] == "2" and dual["h01"] == "1" and dual["false_positive"] == "1"
    )
    assert dual["longest_duration_s"] == "60.000" and dual["date"] == "2026-11-26"


def test_empty_day_and_bad_params(client: TestClient, users: Any) -> None:
    h = users.headers("operator")
    body = client.get("/api/v1/summaries/daily", params={"date": "2020-01-01"}, headers=h).json()
    assert body == {"date": "2020-01-01", "site": None, "rows": [], "total": 0}
    assert client.get("/api/v1/summaries/daily", params={"date": "26/11/2026"}, headers=h).status_code == 422
    assert client.get("/api/v1/summaries/daily", params={"format": "xls"}, headers=h).status_code == 422
    assert client.get("/api/v1/summaries/daily", headers=h).status_code == 200  # today by default


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
