"""One clock for the whole code base: aware UTC in storage, Asia/Shanghai at the edges."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: The installation's local zone (``CITYOPS_TIMEZONE``, as in ``Settings.timezone``): working
#: hours, local days of case numbers and reports are counted in it. All of China is one zone.
LOCAL_TZ = ZoneInfo(os.environ.get("CITYOPS_TIMEZONE", "Asia/Shanghai"))


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def ensure_aware(value: datetime) -> datetime:
    """Refuse naive datetimes at the boundary instead of guessing their zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a time zone")
    return value


def to_local(value: datetime) -> datetime:
    return ensure_aware(value).astimezone(LOCAL_TZ)
