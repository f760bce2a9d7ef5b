"""Request and response models of the dispatch API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class SuggestRequest(BaseModel):
    """Free text to classify, e.g. a hotline operator's notes or a citizen's report."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    k: int = Field(default=3, ge=1, le=10, description="how many suggestions per list")


class SuggestionBase(BaseModel):
    confidence: float = Field(description="calibrated probability, 0–1")
    top_features: list[str] = Field(description="the n-grams that argued most for it")


class ClassSuggestionRead(SuggestionBase):
    kind: str
    minor_code: str
    class_name: str | None = None


class DepartmentSuggestionRead(SuggestionBase):
    department_id: int
    name: str | None = None


class SuggestResponse(BaseModel):
    """Both lists, best first; empty with ``message`` when no model has been trained."""

    classes: list[ClassSuggestionRead]
    departments: list[DepartmentSuggestionRead]
    message: str | None = None
    trained_at: datetime | None = None
