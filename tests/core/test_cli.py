"""The command line against a real database file: upgrade, first admin, login, audit verify."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cityops import clisupport
from cityops.app import create_app
from cityops.cli import app as cli


@pytest.fixture
def env(monkeypatch, tmp_path, backend, db_url):
    url = f"sqlite:///{tmp_path / 'cli.db'}" if backend == "sqlite" else db_url
    monkeypatch.setenv("CITYOPS_DATABASE_URL", url)
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITYOPS_AUDIT_KEY", "cli-test-key")
    monkeypatch.setenv("CITYOPS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYOPS_ARGON2_MEMORY_KIB", "8192")
    clisupport.cli_settings.cache_clear()
    yield url
    clisupport.cli_settings.cache_clear()


def run(*args: str, **env: str):
    result = CliRunner().invoke(cli, list(args), env=env or None)
    return result


def test_help_documents_every_command():
    out = run("--help")
    assert out.exit_code == 0
    for command in ("db", "user", "audit", "serve", "demo", "geo", "catalog", "dispatch"):
        assert command in out.output
    assert "upgrade" in run("db", "--help").output


def test_first_admin_from_the_command_line(env, engine):
    if env.startswith("sqlite"):
        assert run("db", "upgrade").exit_code == 0
    weak = run(
        "user", "create", "--username", "admin", "--role", "admin", CITYOPS_NEW_PASSWORD="short"
    )
    assert weak.exit_code == 1 and "password" in weak.output
    out = run(
        "user",
        "create",
        "--username",
        "admin",
        "--role",
        "admin",
        "--display-name",
        "管理员",
        CITYOPS_NEW_PASSWORD="Admin-pass-2026",
    )
    assert out.exit_code == 0, out.output
    again = run(
        "user",
        "create",
        "--username",
        "admin",
        "--role",
        "admin",
        CITYOPS_NEW_PASSWORD="Admin-pass-2026",
    )
    assert again.exit_code == 1 and "taken" in again.output

    with TestClient(create_app(clisupport.cli_settings())) as client:
        r = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "Admin-pass-2026"}
        )
        assert r.status_code == 200, r.text
        token = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert client.get("/api/v1/users", headers=token).json()[0]["roles"] == ["admin"]

        reset = run("user", "reset-password", "--username", "admin")
        assert reset.exit_code == 0 and "reset" in reset.output
        # The reset revoked the old token.
        assert client.get("/api/v1/users", headers=token).status_code == 401

    verify = run("audit", "verify")
    assert verify.exit_code == 0 and "intact" in verify.output
