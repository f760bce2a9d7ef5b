"""The one vocabulary of FastAPI dependencies: sessions, the current actor, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.roles import Role
from cityops.config import Settings
from cityops.db import writer_bind
from cityops.errors import Forbidden, Unauthorized


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A read session; nothing is committed."""
    with request.app.state.session_factory() as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    """A session for writes: the route commits before returning; anything else rolls back.

    Committing here after ``yield`` would run after the response is sent, so a failed commit
    would never reach the client.
    """
    factory = request.app.state.session_factory
    with factory(bind=writer_bind(request.app.state.engine)) as session:
        yield session


def current_actor(request: Request) -> Actor:
    """The authenticated user behind the request's bearer token, or 401."""
    from cityops.auth import service

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    with request.app.state.session_factory() as session:
        user, row = service.authenticate(session, token=token.strip())
        request.state.token_id = row.id
        return service.actor_of(user)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]
CurrentUser = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that lets the request through only for actors holding one of ``roles``."""

    def check(actor: CurrentUser) -> Actor:
        if not actor.has(*roles):
            need = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs one of the roles: {need}")
        return actor

    return check


AdminUser = Annotated[Actor, Depends(require_roles(Role.ADMIN))]
