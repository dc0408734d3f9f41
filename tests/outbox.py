"""The outbox as it stands, read for tests straight from the store's database: what the product never
asks (it claims, holds and marks rows through the Store), so it is not part of the Store."""

from __future__ import annotations

from typing import Any


def outbox_rows(store, chat_id: int | None = None) -> list[dict[str, Any]]:
    """Every row (one chat's, or all), with its signal's key and date, in id order."""
    where, params = ("WHERE outbox.chat_id = ?", [chat_id]) if chat_id is not None else ("", [])
    return store.db.query(f"SELECT outbox.*, signals.key AS key, signals.date AS date FROM outbox "
                          f"JOIN signals ON signals.id = outbox.signal_id {where} ORDER BY outbox.id", params)


def next_retry_at(store) -> str | None:
    """When the earliest pending row is due."""
    return store.db.execute("SELECT MIN(next_attempt_at) AS at FROM outbox WHERE status = 'pending'").rows[0]["at"]
