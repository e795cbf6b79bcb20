"""The OpenAPI document is complete enough for /docs and for schema-driven fuzzing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_ref_resolves_and_hand_parsed_bodies_are_described(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    events = doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]
    assert set(events) == {"application/json", "multipart/form-data"}
    assert set(schemas["ViolationIn"]["required"]) >= {"id", "site", "camera", "rule", "zone", "state"}
    assert "application/x-www-form-urlencoded" in doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
