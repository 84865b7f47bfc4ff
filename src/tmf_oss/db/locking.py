"""Reading a row to change it, so that no other writer changes it in between, on both databases."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session


def locked(session: Session, model, **where):
    """The row of `model` matching `where` (column=value), locked until the transaction ends; None if absent.

    PostgreSQL locks the row (SELECT ... FOR UPDATE). SQLite has no row locks and starts a transaction's write lock
    only at its first write, so a row read before then can be changed by another writer before ours: a no-op
    UPDATE of the row takes the database's write lock first, then the row is read.
    """
    conditions = [getattr(model, name) == value for name, value in where.items()]
    statement = select(model).where(*conditions)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    else:
        session.execute(update(model).where(*conditions).values(version=model.version))
    return session.execute(statement).scalar_one_or_none()
