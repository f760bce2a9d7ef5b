"""Routes of the dispatch API: learned class and department suggestions for a text."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from cityops.auth.models import OrgUnit
from cityops.deps import CurrentUser, SessionDep, SettingsDep
from cityops.dispatch import service
from cityops.dispatch.schemas import (
    ClassSuggestionRead,
    DepartmentSuggestionRead,
    SuggestRequest,
    SuggestResponse,
)

router = APIRouter(prefix="/dispatch", tags=["dispatch"])


@router.post("/suggest", response_model=SuggestResponse)
def suggest(
    body: SuggestRequest, actor: CurrentUser, session: SessionDep, settings: SettingsDep
) -> SuggestResponse:
    """Suggest the minor class and the department for free text (any signed-in user)."""
    found = service.suggest_dispatch(data_dir=settings.data_dir, text=body.text, k=body.k)
    ids = [int(s.label) for s in found.departments]
    names = (
        dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all())
        if ids
        else {}
    )
    classes = []
    for s in found.classes:
        kind, code = service.parse_class_label(s.label)
        classes.append(
            ClassSuggestionRead(
                kind=kind,
                minor_code=code,
                class_name=found.class_names.get(s.label),
                confidence=s.confidence,
                top_features=list(s.top_features),
            )
        )
    departments = [
        DepartmentSuggestionRead(
            department_id=int(s.label),
            name=names.get(int(s.label)),
            confidence=s.confidence,
            top_features=list(s.top_features),
        )
        for s in found.departments
    ]
    return SuggestResponse(
        classes=classes, departments=departments, message=found.message, trained_at=found.trained_at
    )
