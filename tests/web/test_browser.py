"""The console in a real browser (Playwright driving Debian's Chromium, headless).

Runs on SQLite only (the ``backend`` fixture is pinned below) to keep CI time down; the page
tests in ``test_pages.py`` cover both databases. Screenshots go to ``$CITYOPS_SCREENSHOTS_DIR``
(``make screenshots`` points it at docs/screenshots), else to a temporary directory.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, World, tiny_png

CHROMIUM = Path("/usr/bin/chromium")
#: Screenshots are always taken (they render every page once more); they replace the README's
#: only when asked: ``make screenshots`` sets this to docs/screenshots.
SHOTS = Path(
    os.environ.get("CITYOPS_SCREENSHOTS_DIR") or tempfile.mkdtemp(prefix="cityops-screenshots-")
)
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need the 'playwright' Python package"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only (PostgreSQL is covered by the page tests)."""
    return "sqlite"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


class Session:
    """One signed-in browser context that records every request it makes."""

    def __init__(self, browser: Any, base: str, *, phone: bool = False) -> None:
        self.base = base
        options: dict[str, Any] = {"viewport": PHONE if phone else DESK, "locale": "zh-CN"}
        if phone:
            options |= {
                "is_mobile": True,
                "has_touch": True,
                "permissions": ["geolocation"],
                "geolocation": {"latitude": 39.839, "longitude": 116.2875},
            }
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def login(self, username: str) -> Any:
        page = self.goto("/login")
        page.fill('input[name="username"]', username)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not log in"
        return page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def close(self) -> None:
        outside = [
            u for u in self.requests if not u.startswith((self.base, "data:", "blob:", "about:"))
        ]
        self.context.close()
        assert not outside, f"requests left the server: {outside[:5]}"
        assert not self.errors, f"script errors: {self.errors[:3]}"


@pytest.fixture
def open_session(browser: Any, web_server: str) -> Iterator[Any]:
    made: list[Session] = []

    def make(username: str | None = None, *, phone: bool = False) -> Session:
        session = Session(browser, web_server, phone=phone)
        made.append(session)
        if username:
            session.login(username)
        return session

    yield make
    for session in made:
        session.close()


def test_each_role_logs_in(open_session: Any, world: World) -> None:
    """Every role signs in through the form and lands on its own page (screenshot each)."""
    login = open_session()
    login.goto("/login")
    login.shot("login")
    landing = {
        "admin": ("/admin", "admin"),
        "operator": ("/intake", "intake"),
        "shiftlead": ("/queues", "queues"),
        "dispatcher": ("/queues", None),
        "departmenthandler": ("/inbox", "inbox"),
        "leader": ("/dashboard", None),
        "auditor": ("/cases", "cases"),
    }
    for username, (path, shot) in landing.items():
        s = open_session(username)
        assert s.page.url.endswith(path), (username, s.page.url)
        assert s.page.locator("header .me").inner_text()
        if shot:
            s.shot(shot)
    phone = open_session("inspector", phone=True)
    assert phone.page.url.endswith("/m")
    phone.shot("m-tasks")
    phone.goto("/m/patrol").wait_for_selector("#patrol-map path.leaflet-interactive")
    phone.shot("m-patrol")


def _row(page: Any, number: str) -> Any:
    row = page.locator(f'tr[data-number="{number}"]')
    row.wait_for()
    return row


def test_hotline_call_to_close_by_clicking(open_session: Any, world: World) -> None:
    """Intake → register → dispatch → handle with a photo → check passes → close."""
    operator = open_session("operator")
    page = operator.goto("/intake")
    page.fill('input[name="caller_name"]', "王小明")
    page.fill('input[name="caller_phone"]', "13800138000")
    page.fill("#call-text", "幸福路小区门口有一堆暴露垃圾，好几天没人清理，气味很大")
    page.select_option("#call-class", "event:0102")
    page.wait_for_selector("#intake-map path.leaflet-interactive")
    page.locator("#intake-map").click()
    page.wait_for_selector("form#intake[data-place]")
    page.wait_for_selector("#place-label:has-text('/')")
    operator.shot("intake-filled")
    page.click('button[data-action="take-call"]')
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    case_url = page.url
    number = page.locator("h1 small").inner_text().strip()
    assert page.locator("[data-status]").get_attribute("data-status") == "reported"

    lead = open_session("shiftlead")
    page = lead.goto("/queues?tab=register")
    _row(page, number).locator('form[data-action="register"] button').click()
    page.wait_for_selector(".flash")

    dispatcher = open_session("dispatcher")
    page = dispatcher.goto("/queues?tab=dispatch")
    row = _row(page, number)
    row.locator('select[name="department_id"]').select_option(str(world.department_id))
    dispatcher.shot("queues-dispatch")
    row.locator('form[data-action="dispatch"] button').click()
    page.wait_for_selector(".flash")

    handler = open_session("departmenthandler")
    page = handler.goto("/inbox")
    card = page.locator(f'article[data-number="{number}"]')
    card.locator('form[data-action="reply"] input[name="text"]').fill("已安排环卫人员今日清理。")
    card.locator('form[data-action="reply"] button').click()
    page.wait_for_selector(".flash")
    card = page.locator(f'article[data-number="{number}"]')
    form = card.locator('form[data-action="handle"]')
    form.locator("textarea").fill("垃圾已清运，现场已冲洗。")
    form.locator('input[type="file"]').set_input_files(
        files=[{"name": "after.png", "mimeType": "image/png", "buffer": tiny_png((90, 170, 90))}]
    )
    handler.shot("inbox-handle")
    form.locator("button").click()
    page.wait_for_selector(".flash")

    page = dispatcher.goto("/queues?tab=check")
    row = _row(page, number)
    row.locator('form[data-action="assign_check"] button').click()
    page.wait_for_selector(".flash")

    inspector = open_session("inspector", phone=True)
    page = inspector.goto("/m")
    task = page.locator(f'article[data-number="{number}"]')
    task.locator('select[name="verdict"]').select_option("pass")
    task.locator('input[type="file"]').set_input_files(
        files=[{"name": "check.png", "mimeType": "image/png", "buffer": tiny_png((200, 200, 90))}]
    )
    task.locator("button").click()
    page.wait_for_selector("#outbox-status:has-text('已发送')")
    inspector.shot("m-check-sent")

    page = lead.goto("/queues?tab=close")
    _row(page, number).locator('form[data-action="close"] button').click()
    page.wait_for_selector(".flash")

    page = lead.goto(case_url.removeprefix(lead.base))
    assert page.locator("[data-status]").get_attribute("data-status") == "closed"
    assert page.locator(".timeline li").count() >= 7
    assert page.locator(".photos img").count() >= 2
    page.wait_for_selector("#case-map path.leaflet-interactive")
    lead.shot("case-detail")


def test_dashboard_draws_map_and_charts(open_session: Any, world: World, session: Any) -> None:
    from .conftest import seed_spike

    seed_spike(session, world)
    session.close()
    leader = open_session("leader")
    page = leader.page
    page.wait_for_selector("#dashboard[data-loaded='1']")
    anomaly = page.locator(f'#anomalies tr[data-anomaly="{world.street_code}/event:0104"]')
    assert "30" in anomaly.inner_text()
    assert page.locator("#hotspots tr[data-hotspot]").count() >= 1
    page.wait_for_selector("#dash-map path.leaflet-interactive")
    assert page.locator("#dash-map path.leaflet-interactive").count() >= 3  # streets
    assert page.locator("#dash-map canvas.leaflet-heatmap-layer").count() == 1
    for chart in ("chart-trend", "chart-classes", "chart-ontime-department"):
        assert page.locator(f"#{chart} svg path").count() > 3, chart
    assert int(page.locator('[data-counter="reported"] b').inner_text()) >= 10
    page.wait_for_selector("#live.on")  # a server-sent event arrived
    page.check('input[name="level"][value="community"]')
    page.wait_for_selector("#dashboard[data-map-features='6']", state="attached")
    leader.shot("dashboard")


def test_a_page_in_english(open_session: Any, world: World) -> None:
    lead = open_session("shiftlead")
    page = lead.page
    page.click('a[data-lang="en"]')
    page.wait_for_selector("text=To register")
    assert page.locator("html").get_attribute("lang") == "en"
    page = lead.goto(f"/cases/{world.cases[2]}")
    assert page.locator("h2", has_text="Timeline").count() == 1
    page.wait_for_selector("#case-map path.leaflet-interactive")
    lead.shot("case-detail-en")


def test_inspector_reports_offline_and_sends_when_back(
    open_session: Any, world: World, session: Any
) -> None:
    inspector = open_session("inspector", phone=True)
    page = inspector.goto("/m/report")
    page.wait_for_selector("body[data-located]", state="attached")
    page.select_option('select[name="class"]', "event:0507")
    page.fill('textarea[name="description"]', "便道上乱堆建筑材料")
    page.locator('input[name="photo"]').set_input_files(
        files=[{"name": "p.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    inspector.shot("m-report")
    inspector.context.set_offline(True)
    page.click('button[data-action="report"]')
    page.wait_for_selector("body[data-outbox='1']", state="attached")
    inspector.context.set_offline(False)
    page.evaluate("window.CityOutbox.flush()")
    page.wait_for_selector("#outbox-status:has-text('已发送')")
    page.wait_for_selector("body[data-outbox='0']", state="attached")
    page.evaluate("window.CityOutbox.flush()")  # a second flush has nothing left to send
    from sqlalchemy import func, select

    from cityops.cases.models import Case

    sent = session.scalar(
        select(func.count(Case.id)).where(Case.description == "便道上乱堆建筑材料")
    )
    assert sent == 1
    assert session.scalar(
        select(Case.client_request_id).where(Case.description == "便道上乱堆建筑材料")
    ).startswith("m-")


def test_admin_creates_a_department_and_an_operator_records_a_callback(
    open_session: Any, world: World, session: Any
) -> None:
    """By clicking: the admin adds a department; the operator records a callback (回访)."""
    from .conftest import seed_replied_request

    request_id = seed_replied_request(session, world)
    session.close()
    admin = open_session("admin")
    page = admin.page
    # Click through from the landing page (a goto could race the login's redirect).
    page.click('a.tab[data-tab="departments"]')
    form = page.locator("form#new-department")
    form.locator('input[name="code"]').fill("park-browser")
    form.locator('input[name="name"]').fill("区园林绿化所")
    form.locator('select[name="kind"]').select_option("department")
    form.locator('input[name="dept_type"]').fill("greening")
    form.locator('button[type="submit"]').click()
    page.wait_for_selector(".flash")
    row = page.locator('tr[data-department="park-browser"]')
    name = row.locator('input[name="name"]')
    assert name.input_value() == "区园林绿化所"
    name.fill("区园林绿化服务中心")
    row.locator('button[type="submit"]').first.click()
    page.wait_for_selector(".flash:has-text('已保存部门')")
    renamed = page.locator('tr[data-department="park-browser"] input[name="name"]')
    assert renamed.input_value() == "区园林绿化服务中心"
    admin.shot("admin-departments")
    admin.goto("/admin?tab=calendar").wait_for_selector("#calendar-days tr[data-day]")
    admin.shot("admin-calendar")
    admin.goto("/admin?tab=catalog").wait_for_selector("#versions tr[data-version]")
    admin.shot("admin-catalog")
    page = admin.goto("/kb")
    new = page.locator("form#new-article")
    new.locator('input[name="title"]').fill("垃圾清运时间")
    new.locator('input[name="category"]').fill("市容环卫")
    new.locator('input[name="keywords"]').fill("垃圾 清运 环卫")
    new.locator('textarea[name="body"]').fill("生活垃圾每日早晚各清运一次；大件垃圾请预约。")
    new.locator('button[type="submit"]').click()
    page.wait_for_selector(".flash")
    page.click('a[href="/kb"] >> nth=-1')
    page.wait_for_selector("#articles tr[data-article]")
    admin.shot("kb")

    operator = open_session("operator")
    page = operator.page
    page.click('header a[href="/callbacks"]')
    row = page.locator(f'tr[data-request="{request_id}"]')
    assert "139****9000" in row.inner_text()
    operator.shot("callbacks")
    row.locator('input[name="resolved"][value="1"]').check()
    row.locator('input[name="satisfaction"][value="satisfied"]').check()
    row.locator('button[type="submit"]').click()
    page.wait_for_selector(".flash")
    assert page.locator(f'tr[data-request="{request_id}"]').count() == 0
    page = operator.goto("/callbacks?status=called_back")
    assert "满意" in page.locator(f'tr[data-request="{request_id}"]').inner_text()
