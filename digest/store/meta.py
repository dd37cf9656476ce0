"""Key/value meta: install time, rollup version, alert state."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .base import StoreBase
from .schema import meta


class Meta(StoreBase):
    """Small named values that outlive a run."""

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, delete) `key`."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(meta).where(meta.c.key == key))
            if value is not None:
                conn.execute(sa.insert(meta).values(key=key, value=value))

    def setdefault_meta(self, key: str, value: str) -> str:
        """Set `key` once (first writer wins) and return the stored value."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(meta).values(key=key, value=value))
        except IntegrityError:
            pass
        stored = self.get_meta(key)
        assert stored is not None
        return stored
