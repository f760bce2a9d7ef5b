"""Languages of the console: zh-CN by default, English on request (``?lang=en`` or a cookie).

Source strings (msgids) are English; ``i18n/zh_CN/LC_MESSAGES/messages.po`` translates them.
The ``.po`` file is compiled in memory when the first page renders, so a fresh clone needs no
build step and no ``.mo`` file is committed. One Jinja2 environment per language keeps
rendering thread-safe. Python-side messages use :func:`tr` (extracted with ``tr:2``).
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cityops.timeutil import to_local

I18N_DIR = Path(__file__).parent / "i18n"
TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "zh_CN"
#: Locale code → (HTML ``lang``, name shown in the switcher).
LOCALES: dict[str, tuple[str, str]] = {"zh_CN": ("zh-CN", "中文"), "en": ("en", "English")}
_ALIASES = {"zh": "zh_CN", "zh-cn": "zh_CN", "zh_cn": "zh_CN", "en": "en", "en-us": "en"}
_lock = threading.Lock()


def normalise(value: str | None) -> str | None:
    """``zh-CN``/``zh``/``en`` → a supported locale code, or None."""
    if not value:
        return None
    return _ALIASES.get(value.strip().lower())


def locale_of(request: Request) -> str:
    """The request's language: ``?lang=``, then the cookie, then zh-CN."""
    from cityops.web.session import LANG_COOKIE

    return (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get(LANG_COOKIE))
        or DEFAULT_LOCALE
    )


def po_path(locale: str) -> Path:
    return I18N_DIR / locale / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (English needs none: msgids are English)."""
    path = po_path(locale)
    if locale == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def N_(message: str) -> str:
    """Mark a Python constant for extraction; it is translated where it is shown."""
    return message


def tr(locale: str, message: str, **values: Any) -> str:
    """Translate a Python-side message and fill ``%(name)s`` placeholders."""
    text = translations(locale).gettext(message)
    return text % values if values else text


def _localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else to_local(value).strftime(fmt)


def _isotime(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _duration(locale: str) -> Any:
    def duration(seconds: float | None) -> str:
        """Seconds → ``2 h 05 min`` / ``2小时05分`` (negative values keep their sign)."""
        if seconds is None:
            return "—"
        sign = "-" if seconds < 0 else ""
        total = int(abs(seconds)) // 60
        days, rest = divmod(total, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return sign + tr(locale, "%(d)s d %(h)s h", d=days, h=hours)
        if hours:
            return sign + tr(locale, "%(h)s h %(m)02d min", h=hours, m=minutes)
        return sign + tr(locale, "%(m)s min", m=minutes)

    return duration


@lru_cache(maxsize=8)
def environment(locale: str) -> Environment:
    """The Jinja2 environment of one language (built once)."""
    with _lock:
        env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
        env.filters["localtime"] = _localtime
        env.filters["isotime"] = _isotime
        env.filters["duration"] = _duration(locale)
        env.globals["LOCALES"] = LOCALES
        env.globals["locale"] = locale
        env.globals["html_lang"] = LOCALES[locale][0]
        return env
