"""Routes of login, logout and user administration (thin: the service does the work)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cityops.auth import service
from cityops.auth.models import ApiToken
from cityops.auth.schemas import LoginBody, TokenRead, UserCreate, UserRead, UserUpdate
from cityops.deps import AdminUser, CurrentUser, SessionDep, WriteSessionDep
from cityops.errors import Locked, NotFound, Unauthorized

public_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(tags=["auth"])


@public_router.post("/login", response_model=TokenRead)
def login(body: LoginBody, request: Request, session: WriteSessionDep) -> TokenRead:
    """Exchange username and password for a bearer token (5 failures lock for 15 minutes)."""
    client = request.client.host if request.client else None
    outcome = service.login(session, username=body.username, password=body.password, client=client)
    session.commit()  # failed attempts count even though the answer is an error
    if outcome.locked_until is not None and outcome.token is None:
        raise Locked(
            "account locked after too many failed logins; try again later",
            field="username",
            locked_until=outcome.locked_until.isoformat(),
        )
    if outcome.token is None or outcome.expires_at is None:
        raise Unauthorized(outcome.error or "wrong username or password", field="password")
    return TokenRead(access_token=outcome.token, expires_at=outcome.expires_at)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, actor: CurrentUser, session: WriteSessionDep) -> None:
    """Revoke the token this request was made with."""
    row = session.get(ApiToken, request.state.token_id)
    if row is None:
        raise NotFound("token not found", field="authorization")
    service.revoke_token(session, actor=actor, token_row=row)
    session.commit()


@router.get("/auth/me", response_model=UserRead)
def me(actor: CurrentUser, session: SessionDep) -> UserRead:
    """The user behind the token, with roles and data scope."""
    return UserRead.model_validate(service.get_user(session, user_id=actor.id))


@router.get("/users", response_model=list[UserRead])
def list_users(admin: AdminUser, session: SessionDep) -> list[UserRead]:
    return [
        UserRead.model_validate(u)
        for u in service.list_users(session, district_code=admin.district_code)
    ]


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(body: UserCreate, admin: AdminUser, session: WriteSessionDep) -> UserRead:
    user = service.create_user(
        session,
        actor=admin,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        roles=[r.value for r in body.roles],
        district_code=admin.district_code,
        scope_areas=body.scope_areas,
        scope_department_id=body.scope_department_id,
        org_unit_id=body.org_unit_id,
        phone=body.phone,
        permissions=[p.value for p in body.permissions],
    )
    session.commit()
    return UserRead.model_validate(user)


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(user_id: int, admin: AdminUser, session: SessionDep) -> UserRead:
    user = service.get_user(session, user_id=user_id)
    if user.district_code != admin.district_code:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    return UserRead.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(
    user_id: int, body: UserUpdate, admin: AdminUser, session: WriteSessionDep
) -> UserRead:
    get_user(user_id, admin, session)
    user = service.update_user(
        session,
        actor=admin,
        user_id=user_id,
        display_name=body.display_name,
        roles=[r.value for r in body.roles] if body.roles is not None else None,
        scope_areas=body.scope_areas,
        scope_department_id=body.scope_department_id,
        active=body.active,
        password=body.password,
        unlock=body.unlock,
        permissions=[p.value for p in body.permissions] if body.permissions is not None else None,
    )
    session.commit()
    return UserRead.model_validate(user)
