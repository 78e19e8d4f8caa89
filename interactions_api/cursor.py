"""Opaque keyset-pagination cursors: URL-safe base64 of the last row's ``[occurred_at, id]``."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

MAX_ID = 2**63 - 1  # PostgreSQL bigint


class MalformedCursor(ValueError):
    """The cursor was not produced by this API (or was altered)."""


@dataclass(frozen=True)
class Cursor:
    occurred_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.occurred_at.isoformat(), self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            occurred_at_text, row_id = json.loads(raw)
            occurred_at = datetime.fromisoformat(occurred_at_text)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise MalformedCursor("is not a cursor returned by this API") from exc
        if occurred_at.tzinfo is None or type(row_id) is not int or not 1 <= row_id <= MAX_ID:
            raise MalformedCursor("is not a cursor returned by this API")
        return cls(occurred_at=occurred_at, id=row_id)
