"""Who is acting: the authenticated user with roles and data scope, detached from the ORM."""

from __future__ import annotations

from dataclasses import dataclass

from cityops.auth.roles import CONTACT_ROLES, Permission, Role


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    display_name: str
    district_code: str
    roles: frozenset[Role]
    scope_areas: tuple[str, ...]
    scope_department_id: int | None
    org_unit_id: int | None = None
    permissions: frozenset[Permission] = frozenset()

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def sees_contacts(self) -> bool:
        """Whether callers' names and phone numbers are shown to this actor unmasked."""
        return bool(self.roles & CONTACT_ROLES) or Permission.CONTACTS in self.permissions


#: The actor recorded for work done by the CLI or a scheduled job.
SYSTEM = Actor(
    id=0,
    username="system",
    display_name="system",
    district_code="000000",
    roles=frozenset(),
    scope_areas=(),
    scope_department_id=None,
)
