"""Every route x every principal, against a violation and camera at site-a.

``bh_own`` is the branch head of site-a, ``bh_other`` the one of site-b. Where a route answers
200 to a branch head of another site, ``visible`` says how many site-a items it may show.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.security import Passwords
from api.users import create_user
from tests.api.helpers import INGEST_KEY, JPEG, MP4, record

PRINCIPALS = ["anon", "key", "operator", "engineer", "admin", "bh_own", "bh_other"]
ZONES = {
    "zones": [{"name": "teller_area", "kind": "teller_area", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}]
}


def expect(
    anon: int, key: int, operator: int, engineer: int, admin: int, bh_own: int, bh_other: int
) -> dict[str, int]:
    return dict(zip(PRINCIPALS, (anon, key, operator, engineer, admin, bh_own, bh_other), strict=True))


READ = expect(401, 403, 200, 200, 200, 200, 404)
READ_LIST = expect(401, 403, 200, 200, 200, 200, 200)
OTHER_SITE_FILTER = expect(401, 403, 200, 200, 200, 200, 403)
PIPELINE_ONLY = lambda ok: expect(401, ok, 403, 403, 403, 403, 403)  # noqa: E731
ADMIN_ONLY = lambda ok: expect(401, 403, 403, 403, ok, 403, 403)  # noqa: E731


@dataclass
class Route:
    name: str
    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    items: str | None = None  # JSON key holding a list; branch heads of site-b must see it empty
    stream: bool = False  # an endless SSE response: read its first line, then hang up


ROUTES = [
    Route("healthz", "GET", "/healthz", expect(200, 200, 200, 200, 200, 200, 200)),
    Route("openapi", "GET", "/openapi.json", expect(200, 200, 200, 200, 200, 200, 200)),
    Route("prometheus", "GET", "/metrics", expect(401, 200, 403, 200, 200, 403, 403)),
    Route("me", "GET", "/api/v1/auth/me", expect(401, 403, 200, 200, 200, 200, 200)),
    Route("ingest", "POST", "/api/v1/events", PIPELINE_ONLY(201), body={}),
    Route(
        "pipeline-metrics",
        "POST",
        "/api/v1/metrics/pipeline",
        PIPELINE_ONLY(204),
        body={"site": "site-a", "camera": "counter-1", "interval_s": 5, "analysed": 25},
    ),
    Route(
        "frame-upload",
        "POST",
        "/api/v1/cameras/counter-1/frame",
        PIPELINE_ONLY(204),
        params={"site": "site-a"},
        content=JPEG,
    ),
    Route("list", "GET", "/api/v1/violations", READ_LIST, items="items"),
    Route("list-other-site", "GET", "/api/v1/violations", OTHER_SITE_FILTER, params={"site": "site-a"}),
    Route("get", "GET", "/api/v1/violations/{vid}", READ),
    Route(
        "review",
        "PATCH",
        "/api/v1/violations/{vid}",
        expect(401, 403, 200, 403, 200, 200, 404),
        body={"review_status": "acknowledged"},
    ),
    Route(
        "review-bulk",
        "PATCH",
        "/api/v1/violations",
        expect(401, 403, 200, 403, 200, 200, 404),
        body={"ids": ["{vid}"], "review_status": "acknowledged"},
    ),
    Route("clip", "GET", "/api/v1/violations/{vid}/clip", READ),
    Route("snapshot", "GET", "/api/v1/violations/{vid}/snapshot", READ),
    Route(
        "summary", "GET", "/api/v1/summaries/daily", READ_LIST, params={"date": "2026-11-26"}, items="rows"
    ),
    Route(
        "summary-csv",
        "GET",
        "/api/v1/summaries/daily",
        READ_LIST,
        params={"date": "2026-11-26", "format": "csv"},
    ),
    Route(
        "summary-other-site",
        "GET",
        "/api/v1/summaries/daily",
        OTHER_SITE_FILTER,
        params={"date": "2026-11-26", "site": "site-a"},
    ),
    Route("live", "GET", "/api/v1/live", READ_LIST, stream=True),
    Route(
        "live-other-site", "GET", "/api/v1/live", OTHER_SITE_FILTER, params={"site": "site-a"}, stream=True
    ),
    Route("cameras", "GET", "/api/v1/cameras", READ_LIST, items="."),
    Route("zones-get", "GET", "/api/v1/cameras/counter-1/zones", expect(401, 200, 200, 200, 200, 200, 404)),
    Route(
        "zones-get-other-site",
        "GET",
        "/api/v1/cameras/counter-1/zones",
        expect(401, 200, 200, 200, 200, 200, 404),
        params={"site": "site-a"},
    ),
    Route(
        "zones-put",
        "PUT",
        "/api/v1/cameras/counter-1/zones",
        expect(401, 403, 403, 200, 200, 403, 403),
        body=ZONES,
    ),
    Route("camera-snapshot", "GET", "/api/v1/cameras/counter-1/snapshot", READ),
    Route("users-list", "GET", "/api/v1/users", ADMIN_ONLY(200)),
    Route(
        "users-add",
        "POST",
        "/api/v1/users",
        ADMIN_ONLY(201),
        body={"username": "{new}", "password": "long enough pw", "role": "engineer"},
    ),
    Route("users-remove", "DELETE", "/api/v1/users/{victim}", ADMIN_ONLY(204)),
]


def headers(users: Any, who: str) -> dict[str, str]:
    mapping = {"bh_own": "bh_a", "bh_other": "bh_b"}
    return users.headers(mapping.get(who, who))


@pytest.fixture
def world(client: TestClient, users: Any) -> dict[str, str]:
    """A violation with evidence, a camera with zones and a frame, all at site-a; a user to remove."""
    key = {"X-API-Key": INGEST_KEY}
    rec = record(site="site-a", camera="counter-1")
    r = client.post(
        "/api/v1/events",
        headers=key,
        data={"record": json.dumps(rec)},
        files={"snapshot": ("s.jpg", JPEG, "image/jpeg"), "clip": ("c.mp4", MP4, "video/mp4")},
    )
    assert r.status_code == 201
    assert (
        client.post(
            "/api/v1/cameras/counter-1/frame",
            params={"site": "site-a"},
            content=JPEG,
            headers={**key, "Content-Type": "image/jpeg"},
        ).status_code
        == 204
    )
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        create_user(s, Passwords(users.settings), victim, "operator", None, "long enough pw")
    return {"vid": rec["id"], "victim": victim, "new": f"new-{uuid.uuid4().hex[:8]}"}


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_matrix(client: TestClient, users: Any, world: dict[str, str], route: Route, who: str) -> None:
    expected = route.expected[who]
    path = route.path.format(**world)
    kwargs: dict[str, Any] = {"params": route.params, "headers": headers(users, who)}
    if route.body is not None:
        body = json.loads(json.dumps(route.body).replace("{new}", world["new"]).replace("{vid}", world["vid"]))
        kwargs["json"] = body or record(site="site-a")
    if route.content is not None:
        kwargs["content"] = route.content
        kwargs["headers"] = {**kwargs["headers"], "Content-Type": "image/jpeg"}
    if route.stream:
        with client.stream(route.method, path, **kwargs) as r:
            assert r.status_code == expected, f"{route.method} {path} as {who}: {r.status_code}"
            if r.status_code == 200:
                assert r.headers["content-type"].startswith("text/event-stream")
                assert next(r.iter_lines()) == "retry: 3000"
        return
    r = client.request(route.method, path, **kwargs)
    assert r.status_code == expected, f"{route.method} {path} as {who}: {r.status_code} {r.text[:200]}"
    if r.status_code == 200 and route.items is not None:
        data = r.json()
        listed = data if route.items == "." else data[route.items]
        if who == "bh_other":
            assert listed == [], f"{who} sees site-a data on {path}"
        else:
            assert len(listed) >= 1
    if r.status_code == 200 and route.name == "summary-csv" and who == "bh_other":
        assert r.text.count("\n") == 1, "branch head of site-b got site-a rows in the CSV"


def test_a_refused_role_is_named_by_its_value(client: TestClient, users: Any) -> None:
    """Roles are an enum inside the API; messages, JSON and the database carry the plain value."""
    r = client.get("/api/v1/users", headers=users.headers("operator"))
    assert r.status_code == 403 and r.json()["detail"] == "role 'operator' may not do this"
    me = client.get("/api/v1/auth/me", headers=users.headers("bh_a")).json()
    assert me["role"] == "branch_head" and type(me["role"]) is str
