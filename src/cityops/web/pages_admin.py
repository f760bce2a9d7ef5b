"""Administration: users and roles, departments, the catalogue, routing rules, the calendar.

Writes go through ``auth.service`` (create/update users), ``catalog.departments`` (create a
department), ``catalog.service`` (upload and activate catalogue versions) and
``catalog.routing`` (rules) with the API's own request models. Departments cannot be renamed
or deactivated here yet (no service function for it), and calendar overrides come from the
file named by ``CITYOPS_CALENDAR_OVERRIDES``: the calendar tab shows that file and the next 60
days as the deadline clock sees them.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cityops.auth import service as auth_service
from cityops.auth.roles import Permission, Role
from cityops.auth.schemas import UserCreate
from cityops.cases import service as case_service
from cityops.catalog import departments, files, routing
from cityops.catalog import service as catalog_service
from cityops.catalog.schemas import RuleCreate
from cityops.deps import SessionDep
from cityops.errors import InvalidInput, NotFound
from cityops.timeutil import to_local, utcnow
from cityops.web import lookups
from cityops.web.actions import Posted, attempt, read_form
from cityops.web.i18n import N_
from cityops.web.render import redirect, render, t
from cityops.web.session import PageError, PageUser, roles_form, roles_page
from cityops.workcal.calendar import (
    CalendarCoverageWarning,
    WorkCalendar,
    WorkingHours,
    load_overrides,
)

router = APIRouter(include_in_schema=False)

AdminPage = Annotated[PageUser, Depends(roles_page(Role.ADMIN))]
AdminForm = Annotated[PageUser, Depends(roles_form(Role.ADMIN))]
TABS = ("users", "departments", "catalog", "rules", "calendar")


#: How far ahead the calendar tab shows days as the deadline clock sees them.
CALENDAR_DAYS = 60
#: Largest overrides file shown on the page (it is a list of dates; anything bigger is wrong).
MAX_SHOWN_FILE = 64 * 1024
#: Largest catalogue upload (the API's limit for the same text).
MAX_CATALOG_BYTES = 5_000_000


def _day_kind(work: bool, weekday: int) -> str:
    """workday, rest (a weekend), holiday (a weekday off) or makeup (a weekend worked, 调休)."""
    weekend = weekday >= 5
    if work:
        return "makeup" if weekend else "workday"
    return "rest" if weekend else "holiday"


#: The holiday library's names of the official holidays (shown translated).
HOLIDAY_NAMES = {
    "New Year's Day": N_("New Year's Day"),
    "Spring Festival": N_("Spring Festival"),
    "Tomb-sweeping Day": N_("Tomb-sweeping Day"),
    "Labour Day": N_("Labour Day"),
    "Dragon Boat Festival": N_("Dragon Boat Festival"),
    "National Day": N_("National Day"),
    "Mid-autumn Festival": N_("Mid-autumn Festival"),
    "Anti-Fascist 70th Day": N_("Anti-Fascist 70th Day"),
}


@lru_cache(maxsize=4)
def _lookahead_calendar(
    hours: str, tz: str, overrides: frozenset[tuple[date, bool]]
) -> WorkCalendar:
    """A calendar of the page's own (not the clock's shared one), so looking ahead here
    neither warms nor silences the clock's once-per-year "no holiday data" warning."""
    return WorkCalendar(hours=WorkingHours.parse(hours), tz=tz, overrides=dict(overrides))


def _calendar(request: Request, session: Session, district_code: str) -> dict[str, Any]:
    import chinese_calendar

    settings = request.app.state.settings
    path = settings.calendar_overrides
    found: dict[date, bool] = {}
    error = None
    text = None
    if path:
        try:
            raw = path.read_bytes()[: MAX_SHOWN_FILE + 1]
            text = raw[:MAX_SHOWN_FILE].decode("utf-8", errors="replace")
            found = load_overrides(path)
        except (OSError, ValueError) as exc:
            error = str(exc)
    stored = case_service.list_calendar_overrides(session, district_code=district_code)
    # The clock lets stored overrides win over the file for the same day; so does this view.
    found.update({row.day: row.workday for row in stored})
    cal = _lookahead_calendar(settings.working_hours, settings.timezone, frozenset(found.items()))
    today = to_local(utcnow()).date()
    days = []
    guessed: set[int] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarCoverageWarning)
        for offset in range(CALENDAR_DAYS):
            day = today + timedelta(days=offset)
            work = cal.is_workday(day)
            try:
                _on, name = chinese_calendar.get_holiday_detail(day)
            except NotImplementedError:
                name = None
                if day.year not in cal.known_years:
                    guessed.add(day.year)
            days.append(
                {
                    "date": day.isoformat(),
                    "weekday": day.isoweekday(),
                    "kind": _day_kind(work, day.weekday()),
                    "override": day in found,
                    "holiday": t(request, HOLIDAY_NAMES[name]) if name in HOLIDAY_NAMES else "",
                }
            )
    return {
        "working_hours": settings.working_hours,
        "path": str(path or ""),
        "text": text,
        "overrides": [
            (day.isoformat(), "workday" if work else "holiday")
            for day, work in sorted(found.items())
        ],
        "stored": [
            (row.day.isoformat(), "workday" if row.workday else "holiday", row.name or "")
            for row in stored
        ],
        "error": error,
        "pause": settings.pause_during_extension_request,
        "due_soon": settings.due_soon_fraction,
        "days": days,
        "years": f"{cal.library_years.start}–{cal.library_years.stop - 1}",
        "guessed": sorted(guessed),
    }


@router.get("/admin")
def admin(
    request: Request,
    user: AdminPage,
    session: SessionDep,
    tab: Annotated[str, Query(max_length=16)] = "users",
) -> Response:
    """One page, one tab per thing an administrator keeps."""
    tab = tab if tab in TABS else "users"
    district = user.actor.district_code
    context: dict[str, Any] = {"tab": tab, "tabs": TABS}
    if tab == "users":
        context["users"] = auth_service.list_users(session, district_code=district)
        context["roles"] = [r.value for r in Role]
        context["permissions"] = [p.value for p in Permission]
        context["units"] = lookups.unit_names(
            session, [u.scope_department_id for u in context["users"]]
        )
        context["department_options"] = lookups.department_options(session, district)
    elif tab == "departments":
        context["departments"] = departments.list_departments(
            session, district_code=district, include_inactive=True
        )
        context["kinds"] = departments.DEPARTMENT_KINDS
        context["streets"] = departments.loaded_streets(session, district_code=district)
    elif tab == "catalog":
        version = catalog_service.active_version(session, district_code=district)
        context["version"] = version
        context["versions"] = catalog_service.list_versions(session, district_code=district)
        context["classes"] = (
            catalog_service.list_classes(session, version_id=version.id) if version else []
        )
    elif tab == "rules":
        context["rules"] = routing.list_rules(session, district_code=district)
        context["units"] = lookups.unit_names(session, [r.department_id for r in context["rules"]])
        context["department_options"] = lookups.department_options(session, district)
    else:
        context["calendar"] = _calendar(request, session, district)
    return render(request, "admin.html", user, **context)


def _user_create(posted: Posted) -> UserCreate:
    values: dict[str, Any] = {
        "username": posted.get("username"),
        "password": posted.get("password"),
        "display_name": posted.get("display_name"),
        "roles": posted.lists.get("roles", []),
        "scope_areas": [c for c in posted.get("scope_areas").replace(",", " ").split() if c],
        "permissions": posted.lists.get("permissions", []),
    }
    if posted.get("scope_department_id"):
        values["scope_department_id"] = posted.get("scope_department_id")
        values["org_unit_id"] = posted.get("scope_department_id")
    if posted.get("phone"):
        values["phone"] = posted.get("phone")
    return UserCreate.model_validate(values)


@router.post("/admin/users")
async def create_user(request: Request, user: AdminForm) -> Response:
    """Create a user (the core's password rule applies)."""
    posted = await read_form(request)
    try:
        body = _user_create(posted)
    except ValidationError as exc:
        first = exc.errors()[0]
        return redirect("/admin", f"{first.get('loc', ('',))[0]}: {first.get('msg')}", "error")

    def work(session: Session) -> Any:
        return auth_service.create_user(
            session,
            actor=user.actor,
            username=body.username,
            password=body.password,
            display_name=body.display_name,
            roles=[r.value for r in body.roles],
            district_code=user.actor.district_code,
            scope_areas=body.scope_areas,
            scope_department_id=body.scope_department_id,
            org_unit_id=body.org_unit_id,
            phone=body.phone,
            permissions=[p.value for p in body.permissions],
        )

    _created, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect("/admin", error, "error")
    return redirect("/admin", t(request, "User %(name)s created.", name=body.username))


@router.post("/admin/users/{user_id}")
async def update_user(request: Request, user_id: int, user: AdminForm) -> Response:
    """Change one user's roles, activity, lock or password."""
    posted = await read_form(request)
    what = posted.get("do")

    def work(session: Session) -> Any:
        target = auth_service.get_user(session, user_id=user_id)
        if target.district_code != user.actor.district_code:
            from cityops.errors import NotFound

            raise NotFound(f"no user with id {user_id}", field="user_id")
        changes: dict[str, Any] = {}
        if what == "roles":
            changes["roles"] = posted.lists.get("roles", [])
        elif what == "deactivate":
            changes["active"] = False
        elif what == "activate":
            changes["active"] = True
        elif what == "unlock":
            changes["unlock"] = True
        elif what == "password":
            changes["password"] = posted.get("password")
        return auth_service.update_user(session, actor=user.actor, user_id=user_id, **changes)

    _done, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect("/admin", error, "error")
    return redirect("/admin", t(request, "User updated."))


@router.post("/admin/rules")
async def create_rule(request: Request, user: AdminForm) -> Response:
    """Add a routing rule (validated as the API validates it)."""
    posted = await read_form(request)
    names = set(RuleCreate.model_fields)
    values: dict[str, Any] = {k: v for k, v in posted.fields.items() if k in names and v}
    for name in ("area_prefixes", "weekdays"):
        if name in values:
            values[name] = values[name].replace(",", " ").split()
    try:
        body = RuleCreate.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return redirect("/admin?tab=rules", f"{where}: {first.get('msg')}", "error")

    def work(session: Session) -> Any:
        return routing.create_rule(
            session,
            actor=user.actor,
            district_code=user.actor.district_code,
            values=body.model_dump(exclude_unset=True),
        )

    _rule, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect("/admin?tab=rules", error, "error")
    return redirect("/admin?tab=rules", t(request, "Rule added."))


@router.post("/admin/rules/{rule_id}/delete")
async def delete_rule(request: Request, rule_id: int, user: AdminForm) -> Response:
    """Delete a routing rule."""

    def work(session: Session) -> None:
        routing.delete_rule(
            session, actor=user.actor, district_code=user.actor.district_code, rule_id=rule_id
        )

    _none, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect("/admin?tab=rules", error, "error")
    return redirect("/admin?tab=rules", t(request, "Rule deleted."))


@router.post("/admin/calendar")
async def set_calendar_day(request: Request, user: AdminForm) -> Response:
    """Declare a day a working day or a rest day for the deadline clock."""
    posted = await read_form(request)
    back = "/admin?tab=calendar"

    def work(session: Session) -> Any:
        try:
            day = date.fromisoformat(posted.get("day"))
        except ValueError as exc:
            raise InvalidInput("give the day as YYYY-MM-DD", field="day") from exc
        if posted.get("kind") not in ("workday", "holiday"):
            raise InvalidInput("kind must be workday or holiday", field="kind")
        return case_service.set_calendar_override(
            session,
            actor=user.actor,
            day=day,
            workday=posted.get("kind") == "workday",
            name=posted.get("name")[:64] or None,
        )

    _row, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Override saved."))


@router.post("/admin/calendar/{day}/delete")
async def delete_calendar_day(request: Request, day: date, user: AdminForm) -> Response:
    """Remove a stored override: the day counts as the holiday library says again."""

    def work(session: Session) -> None:
        case_service.delete_calendar_override(session, actor=user.actor, day=day)

    _none, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect("/admin?tab=calendar", error, "error")
    return redirect("/admin?tab=calendar", t(request, "Override deleted."))


@router.post("/admin/departments/{department_id}")
async def update_department(request: Request, department_id: int, user: AdminForm) -> Response:
    """Rename a department or change its type."""
    posted = await read_form(request)
    back = "/admin?tab=departments"

    def work(session: Session) -> Any:
        if len(posted.get("name")) > 128 or len(posted.get("dept_type")) > 32:
            raise InvalidInput("name or type is too long", field="name")
        return departments.update_department(
            session,
            actor=user.actor,
            district_code=user.actor.district_code,
            department_id=department_id,
            name=posted.get("name") or None,
            dept_type=posted.get("dept_type") or None,
        )

    _unit, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Department saved."))


@router.post("/admin/departments/{department_id}/active")
async def set_department_active(request: Request, department_id: int, user: AdminForm) -> Response:
    """Disable a department (refused while it has open cases) or enable it again."""
    posted = await read_form(request)
    back = "/admin?tab=departments"

    def work(session: Session) -> Any:
        return departments.update_department(
            session,
            actor=user.actor,
            district_code=user.actor.district_code,
            department_id=department_id,
            active=posted.get("active") == "yes",
        )

    _unit, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Department saved."))


@router.post("/admin/departments")
async def create_department(request: Request, user: AdminForm) -> Response:
    """Register a department, street office or company (``catalog.departments``)."""
    posted = await read_form(request)
    back = "/admin?tab=departments"

    def work(session: Session) -> Any:
        for name in ("code", "name", "dept_type"):
            if not posted.get(name):
                raise InvalidInput(f"{name} is required", field=name)
        if len(posted.get("code")) > 64 or len(posted.get("name")) > 128:
            raise InvalidInput("code or name is too long", field="code")
        return departments.create_department(
            session,
            actor=user.actor,
            district_code=user.actor.district_code,
            code=posted.get("code"),
            name=posted.get("name"),
            name_en=posted.get("name_en") or None,
            kind=posted.get("kind") or "department",
            dept_type=posted.get("dept_type"),
            region_code=posted.get("region_code") or None,
        )

    _unit, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Department %(name)s created.", name=posted.get("name")))


async def _upload_text(request: Request) -> tuple[dict[str, str], str | None, str]:
    """The catalogue upload form: its fields, the file's text (or None) and the file name."""
    form = await request.form()
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return fields, None, ""
    raw = await upload.read(MAX_CATALOG_BYTES + 1)
    if len(raw) > MAX_CATALOG_BYTES:
        return fields, None, upload.filename
    try:
        return fields, raw.decode("utf-8-sig"), upload.filename
    except UnicodeDecodeError:
        return fields, None, upload.filename


@router.post("/admin/catalog")
async def upload_catalog(request: Request, user: AdminForm) -> Response:
    """Load an uploaded CSV/YAML catalogue as a new version (activated when asked)."""
    back = "/admin?tab=catalog"
    fields, text, filename = await _upload_text(request)
    if text is None:
        return redirect(back, t(request, "Choose a UTF-8 CSV or YAML file under 5 MB."), "error")
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in ("csv", "yaml", "yml"):
        return redirect(back, t(request, "Choose a UTF-8 CSV or YAML file under 5 MB."), "error")
    label = fields.get("label") or None
    activate = fields.get("activate") == "1"

    def work(session: Session) -> Any:
        if label is not None and len(label) > 32:
            raise InvalidInput("label must be 1 to 32 characters", field="label")
        specs = files.parse_csv(text) if suffix == "csv" else files.parse_yaml(text)
        return catalog_service.load_catalog(
            session,
            actor=user.actor,
            district_code=user.actor.district_code,
            specs=specs,
            source=f"upload:{filename}"[:256],
            label=label,
            activate=activate,
        ).label

    made, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    if activate:
        message = t(request, "Catalogue version %(label)s loaded and activated.", label=made)
    else:
        message = t(request, "Catalogue version %(label)s loaded.", label=made)
    return redirect(back, message)


@router.post("/admin/catalog/activate")
async def activate_catalog(request: Request, user: AdminForm) -> Response:
    """Make an existing version the active one."""
    posted = await read_form(request)
    back = "/admin?tab=catalog"
    label = posted.get("label")

    def work(session: Session) -> Any:
        return catalog_service.activate_version(
            session, actor=user.actor, district_code=user.actor.district_code, label=label
        ).label

    _done, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Catalogue version %(label)s is now active.", label=label))


@router.get("/admin/catalog/export")
def export_catalog(
    user: AdminPage,
    session: SessionDep,
    format: Annotated[str, Query(pattern="^(csv|yaml)$")] = "csv",
    label: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Download a version (default: the active one) as CSV or YAML, as the CLI exports it."""
    try:
        version = catalog_service.get_version(
            session, district_code=user.actor.district_code, label=label or None
        )
    except NotFound as exc:
        raise PageError(404, exc.message) from exc
    specs = catalog_service.version_specs(session, version_id=version.id)
    if format == "csv":
        body, media = files.dump_csv(specs), "text/csv; charset=utf-8"
    else:
        body, media = files.dump_yaml(specs, label=version.label), "application/yaml"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in version.label)
    return Response(
        body,
        media_type=media,
        headers={"content-disposition": f'attachment; filename="catalog-{safe}.{format}"'},
    )
