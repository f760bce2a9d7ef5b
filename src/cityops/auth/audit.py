"""The tamper-evident audit log: every write appends one HMAC-chained row."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.models import AuditEntry, AuditHead
from cityops.db import settings_of
from cityops.timeutil import utcnow

GENESIS = "0" * 64


def canonical(detail: dict[str, Any]) -> str:
    return json.dumps(
        detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )


def entry_hash(key: str, entry: AuditEntry) -> str:
    """HMAC over every stored field of the entry and the previous hash."""
    body = "\x1f".join(
        [
            str(entry.id),
            entry.at.isoformat(timespec="microseconds"),
            entry.district_code or "",
            str(entry.actor_id or ""),
            entry.actor_name,
            entry.action,
            entry.object_type,
            entry.object_id or "",
            entry.detail,
            entry.prev_hash,
        ]
    )
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def _locked_head(session: Session) -> AuditHead:
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (writers take the chain head in turn)."""
    head = _locked_head(session)
    entry = AuditEntry(
        at=utcnow(),
        district_code=actor.district_code if actor else None,
        actor_id=actor.id if actor and actor.id else None,
        actor_name=actor_name or (actor.username if actor else "anonymous"),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=canonical(detail or {}),
        prev_hash=head.last_hash,
        hash="",
    )
    session.add(entry)
    session.flush()
    # Hash what the database will give back: SQLite and PostgreSQL both keep microseconds.
    entry.hash = entry_hash(settings_of(session).audit_key, entry)
    head.last_id = entry.id
    head.last_hash = entry.hash
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None


def verify_chain(session: Session, *, key: str, batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order; report the first entry whose link or hash does not hold."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for entry in rows:
            if entry.prev_hash != prev:
                return VerifyResult(False, checked, entry.id, "link to the previous entry broken")
            if not hmac.compare_digest(entry.hash, entry_hash(key, entry)):
                return VerifyResult(False, checked, entry.id, "content does not match its hash")
            prev = entry.hash
            last_id = entry.id
            checked += 1
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != last_id or head.last_hash != prev):
        return VerifyResult(False, checked, last_id or None, "entries missing at the end")
    return VerifyResult(True, checked)
