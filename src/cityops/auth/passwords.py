"""Password hashing (argon2id) and the password rule (MLPS level 2)."""

from __future__ import annotations

import string
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cityops.errors import InvalidInput

#: argon2-cffi's defaults (RFC 9106 low-memory profile): time cost 3, 64 MiB.
DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 64 * 1024


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    # Verified against when the user does not exist, so timing does not reveal which names exist.
    return hasher, hasher.hash("not-a-real-password-1A!")


MIN_LENGTH = 8


def check_password_rule(password: str) -> None:
    """At least 8 characters from at least three of: lower, upper, digits, symbols."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_LENGTH} characters", field="password")
    classes = [
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(not c.isalnum() for c in password),
    ]
    if sum(classes) < 3:
        raise InvalidInput(
            "password must mix three of: lower-case, upper-case, digits, symbols",
            field="password",
        )


def hash_password(
    password: str, *, time_cost: int = DEFAULT_TIME_COST, memory_kib: int = DEFAULT_MEMORY_KIB
) -> str:
    """An argon2id hash; the cost parameters are stored in it, so verification needs none."""
    return _hasher(time_cost, memory_kib)[0].hash(password)


def verify_password(
    password_hash: str | None,
    password: str,
    *,
    time_cost: int = DEFAULT_TIME_COST,
    memory_kib: int = DEFAULT_MEMORY_KIB,
) -> bool:
    hasher, dummy = _hasher(time_cost, memory_kib)
    try:
        return hasher.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
