"""The storage interface the registry is written against, so a PostgreSQL store can follow.

The registry needs only two things from a database: run a function inside a serialised write
transaction (all-or-nothing, no lost updates, retried when another writer holds the lock) and run a
function against a consistent read snapshot. SQL is kept to the portable subset with `?` placeholders;
a PostgreSQL store would translate placeholders and take `SERIALIZABLE` (or a row lock on the head row)
where SQLite takes `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Protocol, Sequence, TypeVar

T = TypeVar("T")


class Tx(Protocol):
    """A transaction handle: valid only inside the function given to `Store.read` / `Store.write`."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def savepoint(self, name: str) -> None: ...

    def rollback_to(self, name: str) -> None: ...


class Store(Protocol):
    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run fn against one consistent snapshot."""
        ...

    def write(self, fn: Callable[[Tx], T]) -> T:
        """Run fn in a serialised write transaction; commit if it returns, roll back if it raises.

        fn may be called more than once (when the database is busy), so it must not have side effects
        outside the transaction.
        """
        ...

    def close(self) -> None: ...
