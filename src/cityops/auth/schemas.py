"""Request and response models of login, tokens and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cityops.auth.roles import Permission, Role

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{2,64}$")
]
RegionCode = Annotated[str, StringConstraints(pattern=r"^(\d{6}|\d{9}|\d{12}|\d{15})$")]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    district_code: str
    roles: list[str]
    scope_areas: list[str]
    scope_department_id: int | None
    org_unit_id: int | None
    permissions: list[str]
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    roles: list[Role] = Field(min_length=1)
    scope_areas: list[RegionCode] = Field(default_factory=list, max_length=500)
    scope_department_id: int | None = None
    org_unit_id: int | None = None
    permissions: list[Permission] = Field(default_factory=list)
    phone: Annotated[str, StringConstraints(pattern=r"^[0-9+\- ]{5,20}$")] | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    scope_areas: list[RegionCode] | None = Field(default=None, max_length=500)
    scope_department_id: int | None = None
    active: bool | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    permissions: list[Permission] | None = None
    unlock: bool = False
