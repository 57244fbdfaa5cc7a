"""duban's exceptions: one root, each subclass a kind of refusal with its data.

The CLI prints them and exits 1; the API maps each kind to its HTTP status in one table (api/errors.py):
the engine says what went wrong, never how a transport reports it.
"""

from __future__ import annotations

from dataclasses import dataclass


class DubanError(Exception):
    """Root of every error duban raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Problem:
    """One thing wrong with an input: where it is and what it is."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        parts = [p for p in (self.where, self.field) if p]
        return f"{': '.join(parts)}: {self.message}" if parts else self.message


class InvalidInput(DubanError):
    """An input (file, form, request) was refused; nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DefinitionError(InvalidInput):
    """A definition file does not parse or does not validate (FILE:LINE: field: message)."""


class ImportRefused(InvalidInput):
    """A unit or people file was refused whole (FILE:ROW: column: reason)."""


class NotFound(DubanError):
    """The thing asked for does not exist, or is outside the caller's scope."""


class NotInScope(NotFound):
    """A unit outside the caller's subtree; reported exactly like a missing one."""

    def __init__(self, unit_code: str) -> None:
        super().__init__(f"unit {unit_code} not found")
        self.unit_code = unit_code


class Forbidden(DubanError):
    """The caller's role or position does not allow this action."""


class Conflict(DubanError):
    """The action does not fit the current state (e.g. approving an open task)."""


class Unauthenticated(DubanError):
    """No valid credentials were given."""


class Throttled(DubanError):
    """Too many attempts; try again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseBusy(DubanError):
    """Another writer held the database longer than a writer waits (SQLite); nothing was changed."""

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"the database stayed locked by another writer for {waited:.0f} s; nothing was changed, try again"
        )
        self.retry_after = 30
