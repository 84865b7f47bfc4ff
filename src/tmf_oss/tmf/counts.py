"""The per-collection row count and write generation, kept by every writing transaction."""
from __future__ import annotations

from sqlalchemy import BigInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tmf_oss.db.base import Base


class CollectionCount(Base):
    """Per collection, kept in every writing transaction: the exact row count (unfiltered lists need no
    COUNT(*)) and a generation that changes with every write (a filtered count stays valid while it holds)."""

    __tablename__ = "collection_count"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
