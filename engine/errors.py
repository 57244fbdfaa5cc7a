"""duban's exceptions: one root, each subclass a kind of refusal with its data.

The CLI prints them and exits 1; the API maps them to problem+json in one handler.
"""

from __future__ import annotations

from dataclasses import dataclass


class DubanError(Exception):
    """Root of every error duban raises on purpose."""

    status = 400
    title = "Refused"

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

    status = 422
    title = "Invalid input"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DefinitionError(InvalidInput):
    """A definition file does not parse or does not validate (FILE:LINE: field: message)."""


class ImportRefused(InvalidInput):
    """A unit or people file was refused whole (FILE:ROW: column: reason)."""


class NotFound(DubanError):
    """The thing asked for does not exist, or is outside the caller's scope."""

    status = 404
    title = "Not found"


class NotInScope(NotFound):
    """A unit outside the caller's subtree; reported exactly like a missing one."""

    def __init__(self, unit_code: str) -> None:
        super().__init__(f"unit {unit_code} not found")
        self.unit_code = unit_code


class Forbidden(DubanError):
    """The caller's role or position does not allow this action."""

    status = 403
    title = "Forbidden"


class Conflict(DubanError):
    """The action does not fit the current state (e.g. approving an open task)."""

    status = 409
    title = "Conflict"


class Unauthenticated(DubanError):
    """No valid credentials were given."""

    status = 401
    title = "Unauthenticated"


class Throttled(DubanError):
    """Too many attempts; try again later."""

    status = 429
    title = "Too many attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseBusy(DubanError):
    """Another writer held the database longer than a writer waits (SQLite); nothing was changed."""

    status = 503
    title = "Busy"

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"the database stayed locked by another writer for {waited:.0f} s; nothing was changed, try again"
        )
        self.retry_after = 30
