"""Zones saved in the editor reach a running pipeline through a real API server."""

from __future__ import annotations

import numpy as np
import pytest

from api.app import create_app, seed_from_config
from api.security import Passwords
from api.settings import Settings
from api.users import create_user
from tests.api.helpers import ThreadServer
from vision.config import ApiSinkConfig, AppConfig, ZoneConfig
from vision.zone_sync import ZonePoller, check_against_rules

KEY = "zone-sync-ingest-key-0123456789"


def app_config() -> AppConfig:
    return AppConfig.model_validate(
        {
            "site": {"id": "branch-1"},
            "cameras": [{
                "id": "counter-1",
                "source": "rtsp://127.0.0.1:1/none",
                "zones": [
                    {"name": "teller_area", "kind": "teller_area", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]},
                    {"name": "counter_top", "kind": "counter", "polygon": [[0, 0.4], [1, 0.4], [1, 0.5], [0, 0.5]]},
                ],
                "rules": [
                    {"type": "dual_teller", "zone": "teller_area"},
                    {"type": "unattended_items", "zone": "counter_top", "attended_by": "teller_area"},
                ],
            }],
        }
    )


@pytest.fixture
def server(tmp_path, monkeypatch):
    settings = Settings(env="dev", data_dir=tmp_path, ingest_keys=KEY, argon2_time_cost=1, argon2_memory_kib=64,
                        argon2_parallelism=1)
    app = create_app(settings)
    seed_from_config(app.state.db, app_config())
    with app.state.db.session() as session:
        create_user(session, Passwords(settings), "eng", "engineer", None, "engineer-pass")
    monkeypatch.setenv("TW_ZONE_KEY", KEY)
    with ThreadServer(app) as srv:
        yield srv


def save_zones(srv: ThreadServer, zones: list[dict]) -> int:
    import httpx

    with httpx.Client(base_url=srv.url) as c:
        token = c.post("/api/v1/auth/login", json={"username": "eng", "password": "engineer-pass"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        r = c.put("/api/v1/cameras/counter-1/zones", params={"site": "branch-1"}, json={"zones": zones},
                  headers=headers)
        assert r.status_code == 200, r.text
        return int(r.json()["version"])


def test_poller_picks_up_saved_zones_and_refuses_ones_that_break_rules(server) -> None:
    cfg = app_config()
    poller = ZonePoller(ApiSinkConfig(url=server.url, key_env="TW_ZONE_KEY"), "branch-1", cfg.cameras)
    try:
        # nothing edited yet: the config file's zones stay
        assert poller.poll_once("counter-1") is False
        assert poller.take("counter-1") is None

        moved = [z.model_dump(mode="json", exclude={"anchor"}) for z in cfg.cameras[0].zones]
        moved[0]["polygon"] = [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]
        version = save_zones(server, moved)
        assert poller.poll_once("counter-1") is True
        got = poller.take("counter-1")
        assert got is not None and got[0] == version
        assert np.allclose(got[1][0].points, np.array(moved[0]["polygon"], dtype=np.float32))
        poller.mark_applied("counter-1", version)
        assert poller.poll_once("counter-1") is False  # 304 with the ETag

        # the counter zone deleted: unattended_items would stop working, so the version is refused
        save_zones(server, [moved[0]])
        assert poller.poll_once("counter-1") is False
        assert poller.take("counter-1") is None
    finally:
        poller.close()


@pytest.mark.parametrize(
    ("names_kinds", "problem"),
    [
        ([("teller_area", "teller_area"), ("counter_top", "counter")], None),
        ([("teller_area", "teller_area")], "zone 'counter_top' is not among this camera's zones"),
        ([("teller_area", "teller_area"), ("counter_top", "generic")],
         "unattended_items watches a zone of kind 'counter', but 'counter_top' is 'generic'"),
        ([("counter_top", "counter")], "zone 'teller_area' is not among this camera's zones"),
    ],
)
def test_check_against_rules(names_kinds, problem) -> None:
    zones = [ZoneConfig(name=n, kind=k, polygon=[(0, 0), (1, 0), (1, 1)]) for n, k in names_kinds]
    result = check_against_rules(app_config().cameras[0], zones)
    assert result is None if problem is None else problem in (result or "")


def test_api_with_the_config_refuses_zones_its_rules_cannot_run_on(tmp_path) -> None:
    """`serve --config`: the API knows the cameras' rules and runs the same check before saving."""
    from fastapi.testclient import TestClient

    settings = Settings(env="dev", data_dir=tmp_path, ingest_keys=KEY, argon2_time_cost=1, argon2_memory_kib=64,
                        argon2_parallelism=1)
    app = create_app(settings, app_config())
    with app.state.db.session() as session:
        create_user(session, Passwords(settings), "eng", "engineer", None, "engineer-pass")
    teller = {"name": "teller_area", "kind": "teller_area", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}
    counter = {"name": "counter_top", "kind": "counter", "polygon": [[0, 0.3], [1, 0.3], [1, 0.5], [0, 0.5]]}
    with TestClient(app) as c:
        token = c.post("/api/v1/auth/login", json={"username": "eng", "password": "engineer-pass"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        def put(zones: list[dict]) -> tuple[int, str]:
            r = c.put("/api/v1/cameras/counter-1/zones", params={"site": "branch-1"}, json={"zones": zones},
                      headers=headers)
            return r.status_code, r.text

        code, text = put([teller])
        assert code == 422 and "rule 1 (unattended_items) of counter-1: zone 'counter_top' is not among" in text
        code, text = put([teller, {**counter, "kind": "generic"}])
        assert code == 422 and "watches a zone of kind 'counter', but 'counter_top' is 'generic'" in text
        assert put([teller, counter])[0] == 200
        assert c.get("/api/v1/cameras/counter-1/zones", params={"site": "branch-1"},
                     headers=headers).json()["version"] == 2  # 1: the config's own, 2: the save above
