"""The roles of the command centre (pure; imported by the lifecycle)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"  # 受理员 / 接线员
    SHIFT_LEAD = "shift_lead"  # 值班长
    DISPATCHER = "dispatcher"  # 派遣员
    DEPARTMENT_HANDLER = "department_handler"  # 专业部门 / 处置单位
    INSPECTOR = "inspector"  # 监督员 / 网格员
    LEADER = "leader"  # 领导
    AUDITOR = "auditor"  # 审计员


#: Roles that read callers' full names and phone numbers: the shift lead answers for the
#: centre's callbacks and the department must reach the citizen. Anyone else sees them masked
#: unless granted the ``contacts`` permission (e.g. the operators who make callbacks).
CONTACT_ROLES = frozenset({Role.SHIFT_LEAD, Role.DEPARTMENT_HANDLER})


class Permission(StrEnum):
    """Grants beyond a role's defaults, given per user."""

    CONTACTS = "contacts"  # 查看联系方式: full names and phone numbers of callers
