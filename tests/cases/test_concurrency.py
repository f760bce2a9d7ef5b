"""Simultaneous actions on one case over real HTTP: exactly one wins, the rest get 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from .test_http_walk import REPORT

ATTEMPTS = 12


def test_simultaneous_dispatches_one_wins(live_server, make_user, department, demo_password):
    users = {role: make_user(role) for role in ("inspector", "shift_lead", "dispatcher")}
    with httpx.Client(base_url=live_server, timeout=60) as http:

        def headers(role: str) -> dict[str, str]:
            r = http.post(
                "/api/v1/auth/login",
                json={"username": users[role].username, "password": demo_password},
            )
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        case = http.post("/api/v1/cases", json=REPORT, headers=headers("inspector")).json()
        url = f"/api/v1/cases/{case['id']}"
        r = http.post(
            f"{url}/register", json={"expected_version": 1}, headers=headers("shift_lead")
        )
        assert r.status_code == 200
        dispatcher = headers("dispatcher")

    barrier = threading.Barrier(ATTEMPTS)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=live_server, timeout=60) as own:
            barrier.wait()
            resp = own.post(
                f"{url}/dispatch",
                headers=dispatcher,
                json={"expected_version": 2, "department_id": department.id},
            )
            return resp.status_code

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        codes = sorted(pool.map(attempt, range(ATTEMPTS)))
    assert codes == [200] + [409] * (ATTEMPTS - 1)
    with httpx.Client(base_url=live_server, timeout=60) as http:
        detail = http.get(url, headers=dispatcher).json()
    assert [e["action"] for e in detail["events"]] == ["report", "register", "dispatch"]
    assert detail["version"] == 3
