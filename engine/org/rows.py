"""The rows of the unit and people files, as models: each cell checked once, every problem named.

A blank cell (or a column the file lacks) is "not given" and leaves the stored value as
it is; the marker `-` (sheets.EMPTY) clears it. Which optional fields a row gives is
`model_fields_set`; a cleared field is given with the value None.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from duban.engine.errors import Problem
from duban.engine.language.model import LEVEL_ORDER
from duban.engine.org.contacts import parse_contacts
from duban.engine.org.sheets import EMPTY, Row
from duban.engine.validation import FieldProblem, plain_text, problems_of

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TAG = re.compile(r"[a-z0-9_]+")
KINDS = ("cadre", "member")
MIN_YEAR, MAX_YEAR = 1900, 2999

Model = TypeVar("Model", bound=BaseModel)


def _code(value: str) -> str:
    if not CODE.fullmatch(value):
        raise ValueError(f"{value!r} is not a code (letters, digits, . _ -; at most 64)")
    return value


def _id(value: str) -> str:
    if not CODE.fullmatch(value):
        raise ValueError(f"{value!r} is not an id")
    return value


def _named(what: str) -> Any:
    def check(value: str) -> str:
        if not value:
            raise ValueError(f"{what} needs a name")
        if value == EMPTY:
            raise ValueError("a name cannot be cleared")
        if len(value) > 200:
            raise ValueError("at most 200 characters")
        return plain_text(value)

    return check


def _level(value: str) -> str:
    if value not in LEVEL_ORDER:
        raise ValueError(f"unknown level {value!r}; one of {', '.join(LEVEL_ORDER)}")
    return value


def _kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"unknown kind {value!r}; one of {', '.join(KINDS)}")
    return value


def _tags(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    tags = [t.strip() for t in value.split(";") if t.strip()]
    for tag in tags:
        if not TAG.fullmatch(tag):
            raise ValueError(f"tag {plain_text(tag)!r} must be lower-case letters, digits or _")
    return tags


def _json_object(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad JSON ({exc.msg} at character {exc.pos + 1})") from None
    if not isinstance(parsed, dict):
        raise ValueError('must be a JSON object, like {"members": 120}')
    for key, item in parsed.items():
        plain_text(key)
        if isinstance(item, str):
            plain_text(item)
    return parsed


def _contacts(value: Any) -> Any:
    try:
        return parse_contacts(value) if isinstance(value, dict) else value
    except (TypeError, AttributeError):
        raise ValueError('must look like {"email": ["a@b.cn"], "webhooks": [...]}') from None


def _day(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"{value} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return day


class UnitRow(BaseModel):
    """One row of a unit file. parent_code None (given) means top level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: int
    code: Annotated[str, AfterValidator(_code)]
    name: Annotated[str, AfterValidator(_named("a unit"))]
    level: Annotated[str, AfterValidator(_level)]
    parent_code: str | None = None
    tags: Annotated[list[str] | None, BeforeValidator(_tags)] = None
    attrs: Annotated[dict[str, Any] | None, BeforeValidator(_json_object)] = None
    contacts: Annotated[dict[str, Any] | None, AfterValidator(_contacts), BeforeValidator(_json_object)] = (
        None
    )

    @model_validator(mode="after")
    def _not_own_parent(self) -> UnitRow:
        if self.parent_code and self.parent_code == self.code:
            raise FieldProblem("parent_code", "a unit cannot be its own parent")
        return self

    def given(self, field: str) -> bool:
        return field in self.model_fields_set


class PersonRow(BaseModel):
    """One row of a people file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: int
    id: Annotated[str, AfterValidator(_id)]
    name: Annotated[str, AfterValidator(_named("a person"))]
    unit_code: str
    kind: Annotated[str, AfterValidator(_kind)]
    appointed_on: Annotated[date | None, BeforeValidator(_day)] = None
    birthday: Annotated[date | None, BeforeValidator(_day)] = None

    @model_validator(mode="after")
    def _cadre_has_appointment(self) -> PersonRow:
        if self.kind == "cadre" and self.given("appointed_on") and self.appointed_on is None:
            raise FieldProblem("appointed_on", "a cadre needs the date of appointment")
        return self

    def given(self, field: str) -> bool:
        return field in self.model_fields_set


def parse_rows(
    model: type[Model], name: str, rows: list[Row], required: list[str]
) -> tuple[list[Model], list[Problem]]:
    """Each row as `model`, or its problems at FILE:LINE; blank optional cells are left out, `-` is None."""
    parsed: list[Model] = []
    problems: list[Problem] = []
    for row in rows:
        data: dict[str, Any] = {"line": row.line}
        for column, value in row.cells.items():
            if column in required:
                data[column] = value
            elif value == EMPTY:
                data[column] = None
            elif value:
                data[column] = value
        try:
            parsed.append(model.model_validate(data))
        except ValidationError as exc:
            problems += problems_of(exc, f"{name}:{row.line}")
    return parsed, problems
