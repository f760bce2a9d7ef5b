"""Personal data never reaches the logs: phone and ID-card numbers are masked in every record.

Masking happens where records are made (a log record factory), so it covers every logger —
uvicorn's access log with its query strings included — whatever handlers are configured later.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: Mainland mobile numbers (11 digits starting 13–19), kept recognisable: 138****1234.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
#: Resident ID numbers (18 characters), keeping the region code only.
_ID_CARD = re.compile(r"(?<![\dXx])(\d{6})\d{11}[\dXx](?![\dXx])")

_installed = False


def mask_pii(text: str) -> str:
    """The text with phone and ID-card numbers masked."""
    text = _ID_CARD.sub(r"\1************", text)
    return _PHONE.sub(r"\1****\2", text)


def install() -> None:
    """Mask personal data in every log record from now on (idempotent)."""
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return record
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
