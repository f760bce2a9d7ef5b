"""Fuzzing: schemathesis generates requests for every operation of the OpenAPI schema.

Authenticated as an admin with a district-wide scope; the only property checked is the one
every route must keep: no 5xx, whatever the input. The budget is bounded for CI
(``CITYOPS_FUZZ_EXAMPLES`` per operation, default 3); raise it for a longer run.
"""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from .conftest import full_app  # noqa: E402

EXAMPLES = int(os.environ.get("CITYOPS_FUZZ_EXAMPLES", "3"))
#: Operations that would end the fuzzer's own session (so later examples only meet 401).
SKIPPED = {("POST", "/api/v1/auth/logout"), ("PATCH", "/api/v1/users/{user_id}")}


def test_no_operation_answers_5xx(settings_, make_user, department, capsys):
    from fastapi.testclient import TestClient

    app = full_app(settings_)
    admin = make_user("admin", "shift_lead", "dispatcher")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tried: dict[str, int] = {}
    server_errors: list[str] = []
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/auth/login", json={"username": admin.username, "password": "Passw0rd-demo"}
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            _fuzzer(operation, label, headers, tried, server_errors)()
    with capsys.disabled():
        print(
            f"\nfuzz: {sum(tried.values())} examples over {len(tried)} operations, "
            f"{len(server_errors)} server errors"
        )
    assert len(tried) >= 60
    assert server_errors == []


def _fuzzer(operation, label, headers, tried, server_errors):
    """A hypothesis test calling one operation with generated cases; 5xx answers are noted."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def fuzz(case):
        tried[label] = tried.get(label, 0) + 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the in-process client re-raises what would be a 500
            server_errors.append(f"{label} raised {exc!r}: {case.path_parameters} {case.query}")
            return
        if response.status_code >= 500:
            server_errors.append(
                f"{label} -> {response.status_code}: {case.path_parameters} "
                f"{case.query} {str(case.body)[:200]} :: {response.text[:200]}"
            )

    return fuzz


@pytest.fixture
def settings_(settings):
    """The test settings (named apart from hypothesis' ``settings`` decorator)."""
    return settings


def test_out_of_range_ids_are_refused_not_500(client, make_user, login):
    headers = login(make_user("admin"))
    for huge in (2**31, 2**63, 2**70):  # past PostgreSQL's INTEGER, past SQLite's, past both
        for path in (
            f"/api/v1/cases/{huge}",
            f"/api/v1/users/{huge}",
            f"/api/v1/attachments/{huge}",
        ):
            status = client.get(path, headers=headers).status_code
            assert status in (404, 422), (path, status)
