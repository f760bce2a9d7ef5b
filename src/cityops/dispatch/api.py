"""Routes of the dispatch API: learned class and department suggestions for a text."""

from __future__ import annotations

from fastapi import APIRouter

from cityops.deps import CurrentUser, SessionDep, SettingsDep
from cityops.dispatch import service
from cityops.dispatch.schemas import SuggestRequest, SuggestResponse

router = APIRouter(prefix="/dispatch", tags=["dispatch"])


@router.post("/suggest", response_model=SuggestResponse)
def suggest(
    body: SuggestRequest, actor: CurrentUser, session: SessionDep, settings: SettingsDep
) -> SuggestResponse:
    """Suggest the minor class and the department for free text (any signed-in user)."""
    return service.named_suggestions(session, data_dir=settings.data_dir, text=body.text, k=body.k)
