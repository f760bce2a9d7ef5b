"""Taking lifecycle actions from forms: the same ``cases.service.act`` and bodies as the API.

A form posts the action's fields by name (``expected_version``, ``department_id``, ``reason``
…) and optional ``photo`` files; the photos are stored with ``store_attachment`` and their ids
passed as ``attachment_ids``. Refusals come back as a message for the page, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import UploadFile

from cityops.auth.actor import Actor
from cityops.cases import service
from cityops.cases.attachments import store_attachment
from cityops.cases.lifecycle import Action, LifecycleError
from cityops.cases.models import Case
from cityops.cases.schemas import ACTION_BODIES
from cityops.db import writer_bind
from cityops.errors import CityopsError
from cityops.web.render import t

T = TypeVar("T")
MAX_PHOTOS = 9


@dataclass
class Posted:
    """A submitted form: single fields, repeated fields and photo files."""

    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    photos: list[UploadFile] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


async def read_form(request: Request) -> Posted:
    """Read a urlencoded or multipart form (photos under the name ``photo``)."""
    form = await request.form()
    posted = Posted()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key == "photo" and value.filename and len(posted.photos) < MAX_PHOTOS:
                posted.photos.append(value)
            continue
        posted.lists.setdefault(key, []).append(value)
        posted.fields[key] = value.strip()
    return posted


def write_session(request: Request) -> Session:
    """A session bound to the writer (the caller commits)."""
    factory = request.app.state.session_factory
    session: Session = factory(bind=writer_bind(request.app.state.engine))
    return session


def read_session(request: Request) -> Session:
    factory = request.app.state.session_factory
    session: Session = factory()
    return session


def store_photos(session: Session, actor: Actor, photos: list[UploadFile]) -> list[int]:
    """Store each photo (checked from its bytes) and return the attachment ids."""
    ids = []
    for photo in photos:
        row = store_attachment(session, actor=actor, stream=photo.file, filename=photo.filename)
        ids.append(row.id)
    return ids


def body_for(action: Action, posted: Posted, attachment_ids: list[int]) -> BaseModel:
    """The API's body model of ``action`` filled from the form's fields."""
    model = ACTION_BODIES[action]
    values: dict[str, Any] = {
        name: posted.fields[name]
        for name in model.model_fields
        if posted.fields.get(name) not in (None, "")
    }
    values.pop("attachment_ids", None)
    if attachment_ids:
        values["attachment_ids"] = attachment_ids
    return model.model_validate(values)


def perform(session: Session, actor: Actor, case_id: int, action: Action, posted: Posted) -> Case:
    """Validate the form as the API would and take the action (caller commits)."""
    body = body_for(action, posted, [])
    ids = store_photos(session, actor, posted.photos)
    if ids:
        body = body_for(action, posted, ids)
    return service.act(session, actor=actor, case_id=case_id, action=action, body=body)  # type: ignore[arg-type]


def error_text(request: Request, exc: Exception) -> str:
    """A refusal as a sentence for the page (domain messages are passed through)."""
    if isinstance(exc, CityopsError | LifecycleError):
        return exc.message
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}"
    if isinstance(exc, StaleDataError):
        return t(request, "The case was changed by someone else; reload and try again.")
    if isinstance(exc, IntegrityError):
        return t(request, "This conflicts with data that already exists.")
    if isinstance(exc, OperationalError):
        return t(request, "The database is busy; try again.")
    return str(exc)


REFUSALS = (
    CityopsError,
    LifecycleError,
    ValidationError,
    StaleDataError,
    IntegrityError,
    OperationalError,
)


def attempt(request: Request, work: Callable[[Session], T]) -> tuple[T | None, str | None]:
    """Run ``work`` in one write transaction: (result, None) committed, or (None, message)."""
    with write_session(request) as session:
        try:
            result = work(session)
            session.commit()
        except REFUSALS as exc:
            session.rollback()
            return None, error_text(request, exc)
        return result, None
