"""Small vocabularies of the hotline."""

from __future__ import annotations

from enum import StrEnum


class RequestType(StrEnum):
    """What the caller wants (诉求类型)."""

    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


class RequestStatus(StrEnum):
    """Where a request stands from the hotline's side (the case has its own state)."""

    ANSWERED = "answered"  # 直接答复: closed at intake, no case
    OPEN = "open"  # a case was made; waiting for the department's reply
    REPLIED = "replied"  # the department replied to the citizen
    CALLED_BACK = "called_back"  # 已回访: the citizen rated the answer
    REOPENED = "reopened"  # the callback said "not resolved": the case went back to handling


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class CallbackChannel(StrEnum):
    PHONE = "phone"  # an operator called
    SMS = "sms"  # 短信回访
    IVR = "ivr"  # recorded-voice call with key presses


class RateGroup(StrEnum):
    """What the three rates are grouped by."""

    STREET = "street"
    DEPARTMENT = "department"
