"""The geo routes through the real app: real login, real database, real error handling."""

from __future__ import annotations

import pytest

from cityops.auth.actor import SYSTEM
from cityops.auth.service import create_user, ensure_district
from cityops.geo import service

from .conftest import DISTRICT


def _user_headers(session, login, demo_password, district_code: str, username: str):
    ensure_district(session, code=district_code, name=district_code)
    user = create_user(
        session,
        actor=SYSTEM,
        username=username,
        password=demo_password,
        display_name="派遣员",
        roles=["dispatcher"],
        district_code=district_code,
    )
    session.commit()
    return login(user)


@pytest.fixture
def headers(session, loaded, login, demo_password):
    return _user_headers(session, login, demo_password, DISTRICT, "geo-dispatcher")


def test_locate_batch_reverse_search_and_layers(client, headers, boundary):
    p = boundary.geometry.representative_point()
    answer = client.get("/api/v1/geo/locate", params={"lon": p.x, "lat": p.y}, headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert body["district_code"] == DISTRICT and len(body["grid_code"]) == 15

    outside = client.get("/api/v1/geo/locate", params={"lon": 110.0, "lat": 30.0}, headers=headers)
    assert outside.status_code == 422
    assert outside.json()["field"] == "lon"

    batch = client.post(
        "/api/v1/geo/locate/batch", json={"points": [[p.x, p.y], [110.0, 30.0]]}, headers=headers
    ).json()
    assert [i["inside"] for i in batch["items"]] == [True, False]
    assert batch["items"][0]["grid_code"] == body["grid_code"]

    region = client.get(f"/api/v1/geo/regions/{body['community_code']}", headers=headers).json()
    assert region["level"] == "community" and region["geometry"]["type"] in {
        "Polygon",
        "MultiPolygon",
    }
    children = client.get(
        f"/api/v1/geo/regions/{body['community_code']}/children", headers=headers
    ).json()
    assert body["grid_code"] in {c["code"] for c in children}
    assert client.get("/api/v1/geo/regions/120101001", headers=headers).status_code == 404

    found = client.get(
        "/api/v1/geo/search", params={"q": body["street_code"]}, headers=headers
    ).json()
    assert found[0]["code"] == body["street_code"]

    layer = client.get("/api/v1/geo/layers/community", params={"zoom": 13}, headers=headers).json()
    assert len(layer["features"]) == 8
    assert (
        client.get("/api/v1/geo/layers/grid", params={"zoom": 10}, headers=headers).status_code
        == 422
    )
    assert (
        client.get("/api/v1/geo/areas", params={"lon": p.x, "lat": p.y}, headers=headers).json()
        == []
    )


def test_no_maps_is_404(client, session, login, demo_password):
    service.clear_cache()
    other = _user_headers(session, login, demo_password, "110102", "xicheng-dispatcher")
    r = client.get("/api/v1/geo/locate", params={"lon": 116.36, "lat": 39.9}, headers=other)
    assert r.status_code == 404


def test_geo_routes_need_a_token(client, loaded):
    assert client.get("/api/v1/geo/search", params={"q": "1"}).status_code == 401
