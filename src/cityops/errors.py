"""Domain errors that every layer understands; the app maps them to HTTP answers."""

from __future__ import annotations

from typing import Any


class CityopsError(Exception):
    """A refusal the user can act on; ``field`` names the input at fault when there is one."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class InvalidInput(CityopsError):
    status_code = 422


class NotFound(CityopsError):
    status_code = 404


class Unauthorized(CityopsError):
    status_code = 401


class Forbidden(CityopsError):
    status_code = 403


class Conflict(CityopsError):
    status_code = 409


class PayloadTooLarge(CityopsError):
    status_code = 413


class UnsupportedMedia(CityopsError):
    status_code = 415


class Locked(CityopsError):
    status_code = 423
