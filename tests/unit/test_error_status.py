"""HTTP lives in the API: the engine's errors carry no status; one table in api/errors.py gives each kind its own."""

from __future__ import annotations

import inspect

import pytest

from duban.api.errors import STATUS, status_of
from duban.engine import errors
from duban.engine.errors import (
    Conflict,
    DefinitionError,
    DubanError,
    Forbidden,
    ImportRefused,
    InvalidInput,
    NotFound,
    NotInScope,
    Problem,
    Throttled,
    Unauthenticated,
)

KINDS = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, DubanError)]


def test_engine_errors_carry_no_http() -> None:
    for kind in KINDS:
        assert not {"status", "title", "status_code"} & set(vars(kind)), kind.__name__


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (DubanError("x"), 400),
        (InvalidInput([Problem("f", "c", "bad")]), 422),
        (DefinitionError([Problem("f", "c", "bad")]), 422),
        (ImportRefused([Problem("f", "c", "bad")]), 422),
        (NotFound("x"), 404),
        (NotInScope("K01"), 404),
        (Forbidden("x"), 403),
        (Conflict("x"), 409),
        (Unauthenticated("x"), 401),
        (Throttled("x", 30), 429),
    ],
)
def test_each_kind_has_its_status(exc: DubanError, status: int) -> None:
    assert status_of(exc)[0] == status


def test_every_engine_error_kind_answers_from_the_table() -> None:
    for kind in KINDS:
        assert any(base in STATUS for base in kind.__mro__), kind.__name__
