"""Authentication on every route, lockout, token expiry and revocation, the audit chain."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.routing import APIRoute
from sqlalchemy import select, update
from typer.testing import CliRunner

from cityops.app import PUBLIC_PATHS, PUBLIC_PREFIXES
from cityops.auth.audit import verify_chain
from cityops.auth.models import ApiToken, AuditEntry, User
from cityops.timeutil import utcnow


def _protected_routes(app):
    """Every operation of the route table, as FastAPI publishes it in the OpenAPI schema."""
    # FastAPI includes routers lazily, so ``app.routes`` no longer lists nested routes; the
    # schema is generated from the same table. Routes hidden from the schema are only /docs.
    hidden = [r.path for r in app.routes if isinstance(r, APIRoute) and not r.include_in_schema]
    assert set(hidden) <= PUBLIC_PATHS
    for path, operations in app.openapi()["paths"].items():
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            continue
        for method in operations:
            yield method.upper(), re.sub(r"\{[^}]+\}", "1", path)


def test_every_non_public_route_needs_a_token(client, app):
    routes = list(_protected_routes(app))
    assert len(routes) > 25  # the table really was walked
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer cto_not-a-real-token"}):
            r = client.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.json()["detail"]
    assert client.get("/health").status_code == 200


def test_security_headers_on_every_response(client):
    for r in (client.get("/health"), client.get("/api/v1/cases"), client.get("/nope")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert (
            "unsafe-inline"
            not in r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        )


def test_five_failures_lock_the_account(client, make_user, session, demo_password):
    user = make_user("operator")
    for attempt in range(1, 6):
        r = client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": "Wrong-pass1"}
        )
        # The fifth failure locks the account, and the answer says so.
        assert r.status_code == (423 if attempt == 5 else 401), (attempt, r.text)
    r = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": demo_password}
    )
    assert r.status_code == 423 and r.json()["field"] == "username"
    assert "locked_until" in r.json()
    # Fifteen minutes later the right password works again.
    session.execute(
        update(User).where(User.id == user.id).values(locked_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    r = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": demo_password}
    )
    assert r.status_code == 200, r.text
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("auth.login_failed") == 5 and "auth.login_locked" in actions


def test_unknown_user_and_wrong_password_look_alike(client, make_user):
    user = make_user("operator")
    a = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "Wrong-pass1"})
    b = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "Wrong-pass1"}
    )
    assert a.status_code == b.status_code == 401 and a.json() == b.json()


def test_tokens_expire_and_can_be_revoked(client, make_user, login, session):
    headers = login(make_user("leader"))
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    headers = login(make_user("leader"))
    session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_admin_manages_users_with_password_rule(client, make_user, login):
    admin = login(make_user("admin"))
    weak = {
        "username": "zhangwei",
        "password": "password",
        "display_name": "张伟",
        "roles": ["operator"],
    }
    r = client.post("/api/v1/users", json=weak, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "password"
    r = client.post("/api/v1/users", json=weak | {"password": "Zhang-wei-2026"}, headers=admin)
    assert r.status_code == 201, r.text
    again = client.post("/api/v1/users", json=weak | {"password": "Zhang-wei-2026"}, headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "username"
    r = client.post(
        "/api/v1/users", json=weak | {"username": "x2", "roles": ["mayor"]}, headers=admin
    )
    assert r.status_code == 422 and r.json()["field"].startswith("roles")
    operator = login(make_user("operator"))
    assert client.get("/api/v1/users", headers=operator).status_code == 403


def test_audit_verify_detects_an_edited_row(
    client, make_user, login, session, settings, monkeypatch
):
    headers = login(make_user("operator"))
    client.post("/api/v1/auth/logout", headers=headers)
    key = settings.audit_key
    assert verify_chain(session, key=key).ok
    victim = session.scalars(select(AuditEntry).order_by(AuditEntry.id).offset(1).limit(1)).one()
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.id == victim.id)
        .values(detail='{"username": "someone-else"}')
    )
    session.commit()
    result = verify_chain(session, key=key)
    assert not result.ok and result.broken_id == victim.id

    from cityops import clisupport
    from cityops.cli import app as cli

    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYOPS_AUDIT_KEY", key)
    clisupport.cli_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["audit", "verify"])
    finally:
        clisupport.cli_settings.cache_clear()
    assert out.exit_code == 1, out.output
    assert f"entry {victim.id}" in out.output


def test_audit_verify_detects_a_deleted_tail(make_user, session, settings):
    make_user("operator")
    make_user("operator")
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    session.delete(last)
    session.commit()
    result = verify_chain(session, key=settings.audit_key)
    assert not result.ok and "missing" in (result.reason or "")
