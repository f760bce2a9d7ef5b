"""Small vocabularies of the case domain."""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    INSPECTOR = "inspector"  # 监督员上报
    HOTLINE = "hotline"  # 12345
    PUBLIC = "public"  # 市民 app / Open311
    SENSOR = "sensor"  # 物联感知 / 视频 AI
    LEADER = "leader"  # 领导交办


class Kind(StrEnum):
    COMPONENT = "component"  # 部件
    EVENT = "event"  # 事件


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class SlaState(StrEnum):
    """How a case stands against its deadline, as shown to people."""

    NONE = "none"  # no deadline yet (before dispatch) or no longer (closed, returned)
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    PAUSED = "paused"  # suspended or waiting for an extension decision
