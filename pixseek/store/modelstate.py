"""Which model a library searches with, and the model switch in progress: one row in the catalog.

`active` is the model searches use (a PIXSEEK_MODEL-style spec). A switch sets `target` (the
model being backfilled) and its job; the cut-over makes the target active and the old model
`retired` until its vectors are dropped, which ends the switch. Abandoning a switch retires
its target instead. `configured` is the
PIXSEEK_MODEL the library last acted on: a changed PIXSEEK_MODEL asks for a switch once, and a
switch made on the admin page sticks across restarts.

Every process (web, workers, the CLI) reads the row at each use, so a cut-over made by one
worker reaches every web process at its next query; a read is one row by its key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, text

from embed import parse_model_spec
from pixseek.errors import ConflictError
from pixseek.store.db import Database, changed

_FIELDS = "active, target, job_id, retired, configured"


@dataclass(frozen=True)
class ModelState:
    """The models of a library: searched with, being backfilled, being retired."""

    active: str
    target: str | None = None
    job_id: str | None = None  # the switch's job, until the old vectors are dropped
    retired: str | None = None  # the model whose vectors are to be dropped
    configured: str = ""

    @property
    def switching(self) -> bool:
        """A switch is backfilling, or cut over and not yet done with the old model."""
        return self.job_id is not None

    def refuse_while_switching(self, action: str) -> None:
        """ConflictError naming the switch and its job, while one is in progress."""
        if self.switching:
            raise ConflictError(
                f"a model switch to {self.target or self.active} is in progress (job "
                f"{self.job_id}): {action} when it has ended, or cancel it"
            )

    def writing(self) -> list[str]:
        """The models new photos are embedded with: the active one first, then the target."""
        return [self.active] + ([self.target] if self.target else [])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_id(spec: str) -> str:
    """The name of a model spec's vectors in the index."""
    return parse_model_spec(spec).model_id


def check_can_begin(state: ModelState, target: str) -> None:
    """ConflictError while a switch runs, or when target is the active model already."""
    state.refuse_while_switching("switch again")
    if model_id(target) == model_id(state.active):
        raise ConflictError(f"{target} is the active model already")


class ModelStore:
    """The model_state row of a library's store; made with default when it is first opened."""

    def __init__(self, database: Database, default: str) -> None:
        self.database = database
        database.execute(
            "INSERT INTO model_state (id, active, configured, updated_at) "
            "VALUES (1, :default, :default, :now) ON CONFLICT (id) DO NOTHING",
            {"default": default, "now": _now()},
        )

    def close(self) -> None:
        """Nothing to close: the database belongs to whoever opened it."""

    def read(self) -> ModelState:
        with self.database.read() as connection:
            return _read(connection)

    def begin(self, target: str, job_id: str, configured: str | None = None) -> ModelState:
        """Start a switch to target under job_id (configured: the PIXSEEK_MODEL that asked).

        Raises ConflictError while another switch runs, or when target is the active model."""
        with self.database.write() as connection:
            check_can_begin(_read(connection), target)
            connection.execute(
                text(
                    "UPDATE model_state SET target = :target, job_id = :job, "
                    "configured = coalesce(:configured, configured), updated_at = :now "
                    "WHERE id = 1"
                ),
                {"target": target, "job": job_id, "configured": configured, "now": _now()},
            )
            return _read(connection)

    def cut_over(self, job_id: str) -> bool:
        """Make the switch's target the active model, the old one retired, and every indexed
        file indexed by the new model; False when job_id runs no backfill (done already)."""
        with self.database.write() as connection:
            state = _read(connection)
            if state.job_id != job_id or state.target is None:
                return False
            connection.execute(
                text(
                    "UPDATE model_state SET active = target, retired = active, target = NULL, "
                    "updated_at = :now WHERE id = 1"
                ),
                {"now": _now()},
            )
            _relabel_files(connection, None, state.target)
            return True

    def retired_dropped(self, job_id: str) -> bool:
        """The old model's vectors are gone: the switch is over."""
        with self.database.write() as connection:
            state = _read(connection)
            if state.job_id != job_id or state.target is not None:
                return False
            if state.retired:  # files a batch in flight at the cut-over marked with the old one
                _relabel_files(connection, state.retired, state.active)
            connection.execute(
                text(
                    "UPDATE model_state SET retired = NULL, job_id = NULL, updated_at = :now "
                    "WHERE id = 1"
                ),
                {"now": _now()},
            )
            return True

    def abandon(self, job_id: str) -> str | None:
        """Give up a switch before its cut-over: its target is retired (its vectors are to be
        dropped) and no longer written. The target, or None when job_id runs no backfill."""
        with self.database.write() as connection:
            state = _read(connection)
            if state.job_id != job_id or state.target is None:
                return None
            connection.execute(
                text(
                    "UPDATE model_state SET retired = target, target = NULL, updated_at = :now "
                    "WHERE id = 1"
                ),
                {"now": _now()},
            )
            return state.target

    def acknowledge(self, configured: str) -> None:
        """Remember a PIXSEEK_MODEL that asks for nothing (it names the active model)."""
        self.database.execute(
            "UPDATE model_state SET configured = :configured, updated_at = :now WHERE id = 1",
            {"configured": configured, "now": _now()},
        )


def _relabel_files(connection: Connection, old: str | None, new: str) -> int:
    """Indexed files (those of old, or all) are now indexed by new."""
    of_old = "AND model_id = :old" if old else ""
    return changed(
        connection.execute(
            text(f"UPDATE files SET model_id = :new WHERE status = 'indexed' {of_old}"),
            {"new": model_id(new), "old": model_id(old) if old else None},
        )
    )


def read_state(database: Database) -> ModelState:
    """The row as it is, without making it (for a reader of a store another process holds)."""
    with database.read() as connection:
        return _read(connection)


def _read(connection: Connection) -> ModelState:
    row = connection.execute(text(f"SELECT {_FIELDS} FROM model_state WHERE id = 1")).one()
    return ModelState(*row)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
