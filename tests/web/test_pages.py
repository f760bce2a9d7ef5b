"""Pages over HTTP (no browser): anonymous refusal, sessions, CSRF, roles, i18n, assets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, csrf_of, form_login, tiny_png

WEB = Path(__file__).resolve().parents[2] / "src" / "cityops" / "web"
#: Pages reachable without a session (everything else must send the browser to /login).
PUBLIC = {"/login", "/lang/{code}"}


def _page_routes(app: Any) -> list[tuple[str, set[str]]]:
    from cityops.web.routes import PAGE_MODULES

    return [
        (route.path, set(route.methods))
        for module in PAGE_MODULES
        for route in module.router.routes
    ]


def test_every_page_refuses_anonymous_access(web_client: Any, web_app: Any) -> None:
    """Walk every console route: anonymous GETs redirect to /login, POSTs never act."""
    routes = _page_routes(web_app)
    assert len(routes) > 20
    for path, methods in routes:
        if path in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in methods - {"HEAD"}:
            response = web_client.request(method, url, follow_redirects=False)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login"), (method, path)


def test_login_sets_a_safe_cookie_and_logout_revokes_it(web_client: Any, world: Any) -> None:
    response = form_login(web_client, "shiftlead")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "cityops_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; Secure is set when served over TLS
    start = web_client.get("/", follow_redirects=False)
    assert start.headers["location"] == "/queues"
    page = web_client.get("/queues")
    assert page.status_code == 200 and "值班长 王强" in page.text
    token = web_client.cookies.get("cityops_session")
    out = web_client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    web_client.cookies.set("cityops_session", token)
    again = web_client.get("/queues", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_the_cookie_is_the_api_token(web_client: Any, world: Any) -> None:
    """One token machinery: the session cookie works as a bearer token and vice versa."""
    form_login(web_client, "operator")
    token = web_client.cookies.get("cityops_session")
    me = web_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "operator"


def test_wrong_password_and_lockout(web_client: Any, world: Any) -> None:
    for _ in range(4):
        assert form_login(web_client, "dispatcher", "wrong-Passw0rd").status_code == 401
    locked = form_login(web_client, "dispatcher", "wrong-Passw0rd")
    assert locked.status_code == 423
    assert form_login(web_client, "dispatcher", PASSWORD).status_code == 423
    assert "锁定" in locked.text


def test_login_needs_its_csrf_token(web_client: Any, world: Any) -> None:
    web_client.get("/login")
    response = web_client.post(
        "/login", data={"username": "operator", "password": PASSWORD, "csrf": "forged"}
    )
    assert response.status_code == 403


def test_posts_need_the_csrf_token_and_same_origin(web_client: Any, world: Any) -> None:
    form_login(web_client, "shiftlead")
    page = web_client.get("/queues?tab=register")
    case_id = world.cases[0]
    refused = web_client.post(
        f"/cases/{case_id}/act/register", data={"expected_version": 1}, follow_redirects=False
    )
    assert refused.status_code == 403
    cross = web_client.post(
        f"/cases/{case_id}/act/register",
        data={"expected_version": 1, "csrf": csrf_of(page.text)},
        headers={"origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert cross.status_code == 403
    done = web_client.post(
        f"/cases/{case_id}/act/register",
        data={"expected_version": 1, "csrf": csrf_of(page.text), "next": "/queues"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/queues"
    detail = web_client.get(f"/cases/{case_id}")
    assert 'data-status="registered"' in detail.text


def test_a_refused_action_is_a_message_not_an_error(web_client: Any, world: Any) -> None:
    form_login(web_client, "shiftlead")
    page = web_client.get(f"/cases/{world.cases[0]}")
    stale = web_client.post(
        f"/cases/{world.cases[0]}/act/register",
        data={"expected_version": 99, "csrf": csrf_of(page.text)},
    )
    assert stale.status_code == 200
    assert "changed since you loaded it" in stale.text


def test_roles_see_only_their_pages(web_client: Any, world: Any) -> None:
    form_login(web_client, "inspector")
    assert web_client.get("/m").status_code == 200
    assert web_client.get("/queues").status_code == 403
    assert web_client.get("/admin").status_code == 403
    assert web_client.get("/intake").status_code == 403
    assert "无权访问" in web_client.get("/admin").text


def test_every_role_lands_on_a_page(web_client: Any, world: Any) -> None:
    landing = {
        "admin": "/admin",
        "operator": "/intake",
        "shiftlead": "/queues",
        "dispatcher": "/queues",
        "inspector": "/m",
        "departmenthandler": "/inbox",
        "leader": "/dashboard",
        "auditor": "/cases",
    }
    for username, path in landing.items():
        web_client.cookies.clear()
        assert form_login(web_client, username).status_code == 303
        start = web_client.get("/", follow_redirects=False)
        assert start.headers["location"] == path
        assert web_client.get(path).status_code == 200, username


def test_english_switch(web_client: Any, world: Any) -> None:
    form_login(web_client, "shiftlead")
    assert "待立案" in web_client.get("/queues").text
    switch = web_client.get("/lang/en?next=/queues", follow_redirects=False)
    assert switch.headers["location"] == "/queues"
    english = web_client.get("/queues").text
    assert "To register" in english and 'lang="en"' in english
    chinese = web_client.get("/queues?lang=zh-CN").text
    assert "待立案" in chinese and 'lang="zh-CN"' in chinese


def test_contacts_are_masked_for_roles_without_them(web_client: Any, world: Any) -> None:
    form_login(web_client, "operator")
    page = web_client.get("/intake")
    taken = web_client.post(
        "/intake",
        data={
            "csrf": csrf_of(page.text),
            "client_request_id": "t-1",
            "type": "complaint",
            "caller_name": "王小明",
            "caller_phone": "13800138000",
            "text": "小区门口暴露垃圾三天没人清理",
            "class": "event:0102",
            "lon": "116.285",
            "lat": "39.838",
        },
        follow_redirects=False,
    )
    assert taken.status_code == 303, taken.text
    case_url = taken.headers["location"]
    assert case_url.startswith("/cases/")
    as_operator = web_client.get(case_url).text
    assert "138****8000" in as_operator and "13800138000" not in as_operator
    web_client.cookies.clear()
    form_login(web_client, "shiftlead")
    assert "13800138000" in web_client.get(case_url).text


def test_inspector_report_is_idempotent(web_client: Any, world: Any) -> None:
    form_login(web_client, "inspector")
    page = web_client.get("/m/report")
    data = {
        "csrf": csrf_of(page.text),
        "client_request_id": "m-offline-1",
        "class": "event:0102",
        "description": "垃圾桶满溢",
        "lon": "116.280",
        "lat": "39.840",
    }
    png = tiny_png()
    first = web_client.post(
        "/m/report",
        data=data,
        files={"photo": ("p.png", png, "image/png")},
        headers={"accept": "application/json"},
    )
    again = web_client.post(
        "/m/report",
        data=data,
        files={"photo": ("p.png", png, "image/png")},
        headers={"accept": "application/json"},
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["created"] is True and again.json()["created"] is False


def test_dashboard_data_and_stream(web_client: Any, world: Any, session: Any) -> None:
    from .conftest import seed_spike

    form_login(web_client, "leader")
    data = web_client.get("/dashboard/data?days=30").json()
    assert data["counters"]["reported"] >= 10
    assert sum(data["trend"]["reported"]) >= 10
    assert data["top_classes"] and data["heat"]
    assert data["on_time_department"]
    assert data["anomalies"] == []
    layer = web_client.get("/map/layer/street?days=30").json()
    assert sum(f["properties"]["cases"] for f in layer["features"]) == data["counters"]["reported"]
    communities = web_client.get("/map/layer/community?days=30").json()
    by_community = {f["id"]: f["properties"]["cases"] for f in communities["features"]}
    assert sum(by_community.values()) == data["counters"]["reported"]
    assert data["hotspots"], "every seeded case lies in a community"
    for hot in data["hotspots"]:  # the same roll-up cells as the map, ranked by density
        assert hot["reported"] == by_community[hot["code"]]
    densities = [h["density_per_km2"] for h in data["hotspots"]]
    assert densities == sorted(densities, reverse=True)
    seed_spike(session, world)
    spiked = web_client.get("/dashboard/data?days=30").json()["anomalies"]
    assert [(a["street_code"], a["class"], a["count"]) for a in spiked] == [
        (world.street_code, "event:0104", 30)
    ]
    assert spiked[0]["street_name"] and spiked[0]["class_name"] != "0104"
    # The stream is a server-sent event feed; read its first counters event only.
    with web_client.stream("GET", "/dashboard/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data:"):
                assert '"reported"' in line
                break


def test_admin_creates_a_user(web_client: Any, world: Any) -> None:
    form_login(web_client, "admin")
    page = web_client.get("/admin")
    made = web_client.post(
        "/admin/users",
        data={
            "csrf": csrf_of(page.text),
            "username": "newop",
            "display_name": "新受理员",
            "password": "An0ther-Passw0rd",
            "roles": ["operator"],
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert "newop" in web_client.get("/admin").text
    for tab in ("departments", "catalog", "rules", "calendar"):
        assert web_client.get(f"/admin?tab={tab}").status_code == 200


@pytest.mark.parametrize("locale", ["zh_CN"])
def test_every_string_is_translated(locale: str) -> None:
    """Every string the templates and Python mark is in the catalogue with a translation."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "tr": (2,), "t": (2,), "N_": None}
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(WEB), method_map, options, keywords=keywords
        )
    }
    path = WEB / "i18n" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(found - translated)
    assert not missing, f"untranslated in {path.name}: {missing[:10]}"


EXTERNAL = re.compile(r"""(?:https?:)?//(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}""", re.I)


def test_no_template_or_asset_references_an_external_url() -> None:
    """Pages run on an intranet: nothing may be loaded from outside (no CDN, no fonts)."""
    offenders = []
    for path in sorted((WEB / "templates").rglob("*.html")) + sorted(
        p for p in (WEB / "static").rglob("*") if p.suffix in {".js", ".css", ".html"}
    ):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if EXTERNAL.search(line):
                offenders.append(f"{path.relative_to(WEB)}:{number}: {line.strip()[:80]}")
    assert not offenders, offenders


def test_templates_have_no_inline_scripts_or_handlers() -> None:
    """The CSP allows scripts from files only: no inline code, no on* attributes."""
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    for path in (WEB / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, re.I):
            assert " src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not handler.search(text), path
