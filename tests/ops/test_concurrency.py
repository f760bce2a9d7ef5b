"""Twenty simultaneous dispatches of one case over real HTTP: exactly one 200, nineteen 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

ATTEMPTS = 20
REPORT = {
    "kind": "event",
    "minor_code": "0102",
    "description": "并发派遣测试：路口暴露垃圾",
    "lon": 116.2870,
    "lat": 39.8400,
}


def test_twenty_simultaneous_dispatches_exactly_one_wins(
    live_server, make_user, department, demo_password
):
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
        assert r.status_code == 200, r.text
        dispatcher = headers("dispatcher")

    barrier = threading.Barrier(ATTEMPTS)

    def attempt(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=live_server, timeout=60) as own:
            barrier.wait()  # release all twenty at once
            resp = own.post(
                f"{url}/dispatch",
                headers=dispatcher,
                json={"expected_version": 2, "department_id": department.id},
            )
            return resp.status_code, resp.json().get("detail", "")

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        results = list(pool.map(attempt, range(ATTEMPTS)))
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * (ATTEMPTS - 1), results
    assert all("reload" in detail for code, detail in results if code == 409)
    with httpx.Client(base_url=live_server, timeout=60) as http:
        detail = http.get(url, headers=dispatcher).json()
    assert [e["action"] for e in detail["events"]] == ["report", "register", "dispatch"]
    assert detail["version"] == 3 and detail["status"] == "dispatched"
