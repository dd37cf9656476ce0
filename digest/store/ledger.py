"""The delivery ledger: a digest goes out at most once per recipient and window, even with concurrent runs.

A send first *claims* its ledger row (insert, or compare-and-swap on a failed or stale row) and only the
claimant sends; `finish_delivery` only touches a row that still holds the caller's claim token.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .base import StoreBase
from .schema import deliveries

# A claim older than this is taken to belong to a process that died mid-send.
STALE_CLAIM = timedelta(minutes=15)


class Ledger(StoreBase):
    """Claims, outcomes and the history of deliveries."""

    def claim_delivery(self, recipient: str, window_key: str, *, now: datetime, resend: bool = False) -> str | None:
        """Claim the right to send `window_key` to `recipient`; return a claim token, or None if it is
        already sent (and not `resend`) or being sent by another live process."""
        token = secrets.token_hex(8)
        recipient = recipient.lower()
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(deliveries).values(recipient=recipient, window_key=window_key,
                                                          status="claimed", claim=token, claimed_at=now,
                                                          attempts=0))
            return token
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.recipient == recipient,
                                                           deliveries.c.window_key == window_key)).mappings().one()
            takeable = (
                row["status"] == "failed"
                or (row["status"] == "claimed" and row["claimed_at"] < now - STALE_CLAIM)
                or (row["status"] == "sent" and resend)
            )
            if not takeable:
                return None
            # compare-and-swap: only one of several racing processes sees rowcount 1
            done = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == row["id"], deliveries.c.claim == row["claim"],
                       deliveries.c.status == row["status"])
                .values(status="claimed", claim=token, claimed_at=now)
            )
            return token if done.rowcount == 1 else None

    def finish_delivery(self, recipient: str, window_key: str, token: str, *, now: datetime,
                        error: str | None = None, message_id: str | None = None) -> None:
        """Mark a claimed delivery sent (error None) or failed (retried on the next run)."""
        values: dict[str, Any] = {"attempts": deliveries.c.attempts + 1}
        if error is None:
            values.update(status="sent", sent_at=now, error=None, message_id=message_id)
        else:
            values.update(status="failed", error=error[:2000])
        with self.engine.begin() as conn:
            conn.execute(sa.update(deliveries).where(deliveries.c.recipient == recipient.lower(),
                                                     deliveries.c.window_key == window_key,
                                                     deliveries.c.claim == token).values(**values))

    def delivery_status(self, recipient: str, window_key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(deliveries.c.status).where(
                deliveries.c.recipient == recipient.lower(), deliveries.c.window_key == window_key)).scalar()

    def deliveries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(deliveries).order_by(deliveries.c.id)).mappings()]

    def last_sent_key(self, recipient: str, prefix: str) -> str | None:
        """The latest window key starting with `prefix` (e.g. `weekly:`) sent to `recipient`."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(deliveries.c.window_key)).where(
                deliveries.c.recipient == recipient.lower(), deliveries.c.status == "sent",
                deliveries.c.window_key.startswith(prefix))).scalar()

    def delivery_states(self, recipient: str, prefix: str) -> dict[str, str]:
        """Window key -> ledger status (claimed | sent | failed) of every key starting with `prefix`
        (e.g. `daily:`) recorded for `recipient`."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(deliveries.c.window_key, deliveries.c.status).where(
                deliveries.c.recipient == recipient.lower(), deliveries.c.window_key.startswith(prefix)))
            return {str(k): str(s) for k, s in rows}
