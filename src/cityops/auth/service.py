"""Use cases of the organisation: districts, org units, users, login, tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.auth.models import ApiToken, District, OrgUnit, User
from cityops.auth.passwords import check_password_rule, hash_password, verify_password
from cityops.auth.roles import Permission, Role
from cityops.db import settings_of
from cityops.errors import Conflict, InvalidInput, NotFound, Unauthorized
from cityops.timeutil import utcnow

ORG_UNIT_KINDS = ("command_centre", "department", "street_office", "community", "company")


def _cost(session: Session) -> dict[str, int]:
    settings = settings_of(session)
    return {"time_cost": settings.argon2_time_cost, "memory_kib": settings.argon2_memory_kib}


def actor_of(user: User) -> Actor:
    return Actor(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        district_code=user.district_code,
        roles=frozenset(Role(r) for r in user.roles),
        scope_areas=tuple(user.scope_areas or ()),
        scope_department_id=user.scope_department_id,
        org_unit_id=user.org_unit_id,
        permissions=frozenset(Permission(p) for p in user.permissions or ()),
    )


def ensure_district(
    session: Session, *, code: str, name: str, name_en: str | None = None
) -> District:
    """Create the district if it is new (idempotent; used by set-up and data loads)."""
    district = session.get(District, code)
    if district is None:
        district = District(code=code, name=name, name_en=name_en)
        session.add(district)
        session.flush()
    return district


def create_org_unit(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    kind: str,
    code: str,
    name: str,
    name_en: str | None = None,
    parent_id: int | None = None,
    dept_type: str | None = None,
    region_code: str | None = None,
) -> OrgUnit:
    if kind not in ORG_UNIT_KINDS:
        raise InvalidInput(f"kind must be one of: {', '.join(ORG_UNIT_KINDS)}", field="kind")
    exists = session.scalar(
        select(OrgUnit.id).where(OrgUnit.district_code == district_code, OrgUnit.code == code)
    )
    if exists is not None:
        raise Conflict(f"org unit code {code!r} already exists", field="code")
    unit = OrgUnit(
        district_code=district_code,
        kind=kind,
        code=code,
        name=name,
        name_en=name_en,
        parent_id=parent_id,
        dept_type=dept_type,
        region_code=region_code,
    )
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="org_unit.create",
        object_type="org_unit",
        object_id=unit.id,
        detail={"code": code, "name": name, "kind": kind},
    )
    return unit


def update_org_unit(
    session: Session, *, actor: Actor, unit: OrgUnit, changes: dict[str, object]
) -> OrgUnit:
    """Apply already-validated field changes to an org unit, audited with what changed."""
    allowed = {"name", "name_en", "dept_type", "region_code", "phone", "active", "parent_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"cannot change {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    before = {k: getattr(unit, k) for k in changes}
    for key, value in changes.items():
        setattr(unit, key, value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="org_unit.update",
        object_type="org_unit",
        object_id=unit.id,
        detail={"before": before, "after": changes},
    )
    return unit


def _validate_roles(roles: Sequence[str]) -> list[str]:
    if not roles:
        raise InvalidInput("a user needs at least one role", field="roles")
    valid = {r.value for r in Role}
    for role in roles:
        if role not in valid:
            raise InvalidInput(
                f"unknown role {role!r}; roles are: {', '.join(sorted(valid))}", field="roles"
            )
    return sorted(set(roles))


def _validate_permissions(permissions: Sequence[str]) -> list[str]:
    valid = {p.value for p in Permission}
    for name in permissions:
        if name not in valid:
            raise InvalidInput(
                f"unknown permission {name!r}; permissions are: {', '.join(sorted(valid))}",
                field="permissions",
            )
    return sorted(set(permissions))


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    display_name: str,
    roles: Sequence[str],
    district_code: str,
    scope_areas: Sequence[str] = (),
    scope_department_id: int | None = None,
    org_unit_id: int | None = None,
    phone: str | None = None,
    permissions: Sequence[str] = (),
) -> User:
    """Create a user; the password must meet the rule and is stored only as an argon2 hash."""
    check_password_rule(password)
    clean_roles = _validate_roles(roles)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken", field="username")
    if session.get(District, district_code) is None:
        raise InvalidInput(f"unknown district {district_code}", field="district_code")
    for unit_id, name in (
        (scope_department_id, "scope_department_id"),
        (org_unit_id, "org_unit_id"),
    ):
        if unit_id is not None and session.get(OrgUnit, unit_id) is None:
            raise InvalidInput(f"no org unit with id {unit_id}", field=name)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password, **_cost(session)),
        roles=clean_roles,
        district_code=district_code,
        scope_areas=list(scope_areas),
        scope_department_id=scope_department_id,
        org_unit_id=org_unit_id,
        phone=phone,
        permissions=_validate_permissions(permissions),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        detail={"username": username, "roles": clean_roles, "scope_areas": list(scope_areas)},
    )
    return user


#: Stored instead of a hash for accounts created without a password: it is not an argon2 hash,
#: so no password ever verifies against it until an admin sets one.
NO_PASSWORD = "!no-password"


@dataclass(frozen=True)
class AccountSpec:
    """One account of a bulk creation (staff lists, simulated districts)."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    scope_areas: tuple[str, ...] = ()
    scope_department_id: int | None = None
    org_unit_id: int | None = None


def create_accounts(
    session: Session, *, actor: Actor, district_code: str, accounts: Sequence[AccountSpec]
) -> list[User]:
    """Create many accounts without passwords (they cannot log in until an admin sets one).

    One audit entry covers the batch; a staff list of thousands is one decision, and hashing a
    throw-away password per account would only cost time.
    """
    if session.get(District, district_code) is None:
        raise InvalidInput(f"unknown district {district_code}", field="district_code")
    names = [a.username for a in accounts]
    if len(set(names)) != len(names):
        raise InvalidInput("usernames repeat within the batch", field="username")
    taken = set(session.scalars(select(User.username).where(User.username.in_(names))))
    if taken:
        raise Conflict(f"username {sorted(taken)[0]!r} is taken", field="username")
    users = [
        User(
            username=a.username,
            display_name=a.display_name,
            password_hash=NO_PASSWORD,
            roles=_validate_roles(a.roles),
            district_code=district_code,
            scope_areas=list(a.scope_areas),
            scope_department_id=a.scope_department_id,
            org_unit_id=a.org_unit_id,
            permissions=[],
        )
        for a in accounts
    ]
    session.add_all(users)
    session.flush()
    if users:
        audit.record(
            session,
            actor=actor,
            action="user.create_bulk",
            object_type="user",
            detail={
                "count": len(users),
                "first_id": users[0].id,
                "last_id": users[-1].id,
                "usernames_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest(),
            },
        )
    return users


def update_user(
    session: Session,
    *,
    actor: Actor,
    user_id: int,
    display_name: str | None = None,
    roles: Sequence[str] | None = None,
    scope_areas: Sequence[str] | None = None,
    scope_department_id: int | None = None,
    active: bool | None = None,
    password: str | None = None,
    unlock: bool = False,
    permissions: Sequence[str] | None = None,
) -> User:
    user = get_user(session, user_id=user_id)
    changes: dict[str, object] = {}
    if display_name is not None:
        user.display_name = changes["display_name"] = display_name
    if roles is not None:
        user.roles = _validate_roles(roles)
        changes["roles"] = user.roles
    if scope_areas is not None:
        user.scope_areas = changes["scope_areas"] = list(scope_areas)
    if scope_department_id is not None:
        user.scope_department_id = changes["scope_department_id"] = scope_department_id
    if permissions is not None:
        user.permissions = _validate_permissions(permissions)
        changes["permissions"] = user.permissions
    if active is not None:
        user.active = changes["active"] = active
        if not active:
            _revoke_all(session, user.id)
    if password is not None:
        check_password_rule(password)
        user.password_hash = hash_password(password, **_cost(session))
        user.password_changed_at = utcnow()
        changes["password"] = "changed"
        _revoke_all(session, user.id)
    if unlock:
        user.failed_logins = 0
        user.locked_until = None
        changes["unlocked"] = True
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.update",
        object_type="user",
        object_id=user.id,
        detail=changes,
    )
    return user


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    return user


def list_users(session: Session, *, district_code: str) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.district_code == district_code).order_by(User.id)
    ).all()


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a login attempt; failures are committed too, so lockout counts survive."""

    user: User | None
    token: str | None = None
    expires_at: datetime | None = None
    error: str | None = None
    locked_until: datetime | None = None


def login(
    session: Session, *, username: str, password: str, client: str | None = None
) -> LoginOutcome:
    """Check the password, count failures, lock after too many, and issue a bearer token."""
    settings = settings_of(session)
    now = utcnow()
    user = session.scalar(select(User).where(User.username == username).with_for_update(of=User))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        verify_password(None, password, **_cost(session))  # same cost as a real check
        audit.record(
            session,
            actor=None,
            actor_name=username,
            action="auth.login_locked",
            object_type="user",
            object_id=user.id,
        )
        return LoginOutcome(user, error="account locked", locked_until=user.locked_until)
    if (
        user is None
        or not user.active
        or not verify_password(user.password_hash, password, **_cost(session))
    ):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= settings.max_failed_logins:
                user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                user.failed_logins = 0
        audit.record(
            session,
            actor=None,
            actor_name=username,
            action="auth.login_failed",
            object_type="user",
            object_id=user.id if user else None,
            detail={"locked": bool(user and user.locked_until and user.locked_until > now)},
        )
        locked = (
            user.locked_until if user and user.locked_until and user.locked_until > now else None
        )
        return LoginOutcome(user, error="wrong username or password", locked_until=locked)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token, row = issue_token(session, user=user, client=client)
    audit.record(
        session, actor=actor_of(user), action="auth.login", object_type="user", object_id=user.id
    )
    return LoginOutcome(user, token=token, expires_at=row.expires_at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, *, user: User, client: str | None = None, ttl: timedelta | None = None
) -> tuple[str, ApiToken]:
    """A new random bearer token; the caller sees it once, the database keeps its hash."""
    settings = settings_of(session)
    token = "cto_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=_digest(token),
        expires_at=utcnow() + (ttl or timedelta(minutes=settings.token_ttl_minutes)),
        client=client,
    )
    session.add(row)
    session.flush()
    return token, row


def authenticate(session: Session, *, token: str) -> tuple[User, ApiToken]:
    """The user a bearer token belongs to, if the token is known, unexpired and unrevoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked token")
    if row.expires_at <= now:
        raise Unauthorized("token expired; log in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("user is disabled")
    return user, row


def revoke_token(session: Session, *, actor: Actor, token_row: ApiToken) -> None:
    token_row.revoked_at = utcnow()
    session.flush()
    audit.record(
        session, actor=actor, action="auth.logout", object_type="api_token", object_id=token_row.id
    )


def _revoke_all(session: Session, user_id: int) -> None:
    now = utcnow()
    for row in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ):
        row.revoked_at = now
