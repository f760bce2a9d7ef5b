"""Signed webhooks for data sharing (政府信息共享) with other bureaus' systems.

The case event log is the outbox: a worker (``run_once``, run by ``cityops ops webhooks-run``)
reads events past its cursor, creates one delivery per matching subscription (by action and
area) and POSTs each as JSON signed with HMAC-SHA256 over ``"{timestamp}.{body}"``. Failed
deliveries are retried with exponential backoff and given up after ``MAX_ATTEMPTS``; every
attempt is in the delivery log, and any delivery can be replayed. Payloads carry no personal
data (no reporters, no description).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseEvent
from cityops.errors import InvalidInput, NotFound
from cityops.ops.models import WebhookCursor, WebhookDelivery, WebhookSubscription
from cityops.timeutil import utcnow

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
#: Receivers should refuse signatures older than this (replayed captures).
TOLERANCE_S = 300
SIGNATURE_HEADER = "X-Cityops-Signature"
TIMESTAMP_HEADER = "X-Cityops-Timestamp"
_FANOUT_BATCH = 1000


class Sender(Protocol):
    """Sends one POST; returns the HTTP status, raises ``OSError``-like errors on failure."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...


class HttpSender:
    """The real sender (httpx, no redirects followed, short timeout)."""

    def __init__(self, timeout: float = 10.0) -> None:
        import httpx

        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        return self._client.post(url, content=body, headers=dict(headers)).status_code


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, *, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > TOLERANCE_S:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at 6 h."""
    delay: timedelta = BASE_BACKOFF * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


# --- subscriptions --------------------------------------------------------------------------


def subscribe(
    session: Session,
    *,
    actor: Actor,
    name: str,
    url: str,
    event_types: Sequence[str] = (),
    area_prefixes: Sequence[str] = (),
    secret: str | None = None,
) -> WebhookSubscription:
    """A new subscription in the actor's district; the secret is generated unless given."""
    if not re.match(r"^https?://[^\s]+$", url) or len(url) > 1024:
        raise InvalidInput("url must be an http(s) URL", field="url")
    known = {a.value for a in Action}
    for kind in event_types:
        if kind not in known:
            raise InvalidInput(f"unknown event type {kind!r}", field="event_types")
    for prefix in area_prefixes:
        if not (prefix.isdigit() and prefix.startswith(actor.district_code)):
            raise InvalidInput(f"{prefix!r} is not a region code of the district", field="area")
    row = WebhookSubscription(
        district_code=actor.district_code,
        name=name,
        url=url,
        secret=secret or secrets.token_urlsafe(32),
        event_types=sorted(set(event_types)),
        area_prefixes=sorted(set(area_prefixes)),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.subscribe",
        object_type="webhook_subscription",
        object_id=row.id,
        detail={"name": name, "url": url, "events": row.event_types, "areas": row.area_prefixes},
    )
    return row


def _matches(sub: WebhookSubscription, event: CaseEvent, case: Case) -> bool:
    if sub.district_code != case.district_code or not sub.active:
        return False
    if sub.event_types and event.action not in sub.event_types:
        return False
    if not sub.area_prefixes:
        return True
    codes = [c for c in (case.grid_code, case.community_code, case.street_code) if c]
    return any(code.startswith(prefix) for prefix in sub.area_prefixes for code in codes)


def fan_out(session: Session, *, now: datetime | None = None) -> int:
    """Create the deliveries of every event past the cursor; returns how many were created."""
    now = now or utcnow()
    cursor = session.get(WebhookCursor, 1, with_for_update=True)
    if cursor is None:
        cursor = WebhookCursor(id=1, last_event_id=0)
        session.add(cursor)
        session.flush()
    subscriptions = session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    ).all()
    created = 0
    while True:
        rows = session.execute(
            select(CaseEvent, Case)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.id > cursor.last_event_id)
            .order_by(CaseEvent.id)
            .limit(_FANOUT_BATCH)
        ).all()
        if not rows:
            break
        for event, case in rows:
            for sub in subscriptions:
                if _matches(sub, event, case):
                    session.add(
                        WebhookDelivery(
                            subscription_id=sub.id, event_id=event.id, next_attempt_at=now
                        )
                    )
                    created += 1
            cursor.last_event_id = event.id
        session.flush()
    return created


def payload(event: CaseEvent, case: Case, delivery_id: int) -> dict[str, Any]:
    """What a receiver gets: the event and the case's public facts, no personal data."""
    return {
        "delivery_id": delivery_id,
        "event": {
            "id": event.id,
            "seq": event.seq,
            "action": event.action,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "at": event.at.isoformat(),
        },
        "case": {
            "number": case.number,
            "district_code": case.district_code,
            "status": case.status,
            "kind": case.kind,
            "minor_code": case.minor_code,
            "class_name": case.class_name,
            "source": case.source,
            "street_code": case.street_code,
            "community_code": case.community_code,
            "grid_code": case.grid_code,
            "lon": case.lon,
            "lat": case.lat,
            "reported_at": case.reported_at.isoformat(),
            "due_at": case.due_at.isoformat() if case.due_at else None,
            "updated_at": case.updated_at.isoformat(),
        },
    }


@dataclass
class RunStats:
    fanned_out: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(
    session: Session, *, sender: Sender, now: datetime | None = None, limit: int = 200
) -> RunStats:
    """Send the deliveries that are due; record every attempt."""
    now = now or utcnow()
    stats = RunStats()
    due = session.execute(
        select(WebhookDelivery, WebhookSubscription, CaseEvent, Case)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(CaseEvent, CaseEvent.id == WebhookDelivery.event_id)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    ).all()
    for delivery, sub, event, case in due:
        body = json.dumps(
            payload(event, case, delivery.id), ensure_ascii=False, separators=(",", ":")
        ).encode()
        stamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(sub.secret, stamp, body),
            "X-Cityops-Delivery": str(delivery.id),
        }
        delivery.attempts += 1
        try:
            status = sender.post(sub.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as exc:  # any transport failure is a failed attempt, never a crash
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        delivery.last_status_code = status
        delivery.last_error = error
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = now
            stats.delivered += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
            stats.failed += 1
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            stats.retried += 1
    session.flush()
    return stats


def run_once(session: Session, *, sender: Sender, now: datetime | None = None) -> RunStats:
    """One pass of the worker: fan out new events, then send what is due."""
    now = now or utcnow()
    created = fan_out(session, now=now)
    stats = deliver_due(session, sender=sender, now=now)
    stats.fanned_out = created
    return stats


def replay(session: Session, *, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (delivered or given up) at the next run."""
    delivery = session.get(WebhookDelivery, delivery_id)
    sub = session.get(WebhookSubscription, delivery.subscription_id) if delivery else None
    if delivery is None or sub is None or sub.district_code != actor.district_code:
        raise NotFound(f"no delivery with id {delivery_id}", field="delivery_id")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.replay",
        object_type="webhook_delivery",
        object_id=delivery.id,
    )
    return delivery
