"""Plan files: one document of a union (its 意见 or its year's 计划) as the set of items it holds.

A plan names its source document, its year and the ids of its definitions. It is read
with the same safe YAML reading as a definition (plain data, bounded, every refusal as
`FILE:LINE: field: message`); whether its items exist is checked where they are used,
against the stored definitions.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from yaml.nodes import MappingNode

from duban.engine.errors import DefinitionError, NotFound, Problem
from duban.engine.language.loader import (
    MAX_FILE_BYTES,
    Loc,
    _Builder,
    _compose,
    _dotted,
    _line_of,
    _message,
    _Refused,
)
from duban.engine.language.model import Strict

ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")


class Plan(Strict):
    """One plan document: its title, where it comes from, its year and its items."""

    id: str
    title: str = Field(min_length=1)
    title_en: str | None = Field(default=None, min_length=1)
    source_document: str = Field(min_length=1, description="the document the items come from")
    year: int | None = Field(
        default=None, ge=1949, le=2200, description="omitted when the document says 20xx"
    )
    items: list[str] = Field(min_length=1, description="definition ids, in the document's order")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID.fullmatch(value):
            raise ValueError(f"{value!r} must be 3-64 lower-case letters, digits and dashes")
        return value

    @field_validator("items")
    @classmethod
    def _items(cls, values: list[str]) -> list[str]:
        for value in values:
            if not ID.fullmatch(value):
                raise ValueError(f"{value!r} is not a definition id")
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"listed twice: {', '.join(twice)}")
        return values

    @property
    def english_title(self) -> str:
        return self.title_en or self.title


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan and the file it came from."""

    plan: Plan
    path: str


def _problems(exc: ValidationError, lines: dict[Loc, int], name: str) -> list[Problem]:
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            key = str(loc[-1])
            close = difflib.get_close_matches(key, list(Plan.model_fields), n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(Plan.model_fields)}"
            )
            message = f"unknown field {key!r}; {hint}"
        else:
            message = _message(error)
        out.append(Problem(f"{name}:{_line_of(lines, loc)}", _dotted(loc), message))
    return out


def parse_plan(text: str, name: str) -> LoadedPlan:
    """Parse and validate one plan file's text; `name` is the file name used in problems."""
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise DefinitionError(
            [Problem(f"{name}:1", "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")]
        )
    builder = _Builder()
    try:
        root = _compose(text.removeprefix("\ufeff"))
        if not isinstance(root, MappingNode):
            line = root.start_mark.line + 1 if root is not None else 1
            raise _Refused(line, "", "a plan file must be one mapping (id: ..., title: ..., items: [...])")
        builder.lines[()] = root.start_mark.line + 1
        data: Any = builder.build(root, ())
    except _Refused as refused:
        raise DefinitionError([Problem(f"{name}:{refused.line}", refused.field, refused.message)]) from None
    try:
        return LoadedPlan(Plan.model_validate(data), name)
    except ValidationError as exc:
        raise DefinitionError(_problems(exc, builder.lines, name)) from None


def load_plans(folder: Path) -> list[LoadedPlan]:
    """Every plan file (*.yaml, *.yml) of a folder, by file name; all or nothing."""
    plans, problems = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")):
        try:
            plans.append(parse_plan(path.read_text(encoding="utf-8"), str(path)))
        except DefinitionError as exc:
            problems += exc.problems
    seen: dict[str, str] = {}
    for loaded in plans:
        if loaded.plan.id in seen:
            problems.append(
                Problem(loaded.path, "id", f"{loaded.plan.id!r} is also the id of {seen[loaded.plan.id]}")
            )
        seen.setdefault(loaded.plan.id, loaded.path)
    if problems:
        raise DefinitionError(problems)
    return plans


def find_plan(name: str, folder: Path) -> LoadedPlan:
    """A plan by file path, or by id among the plans of `folder`."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return parse_plan(path.read_text(encoding="utf-8"), str(path))
    for loaded in load_plans(folder):
        if loaded.plan.id == name:
            return loaded
    known = ", ".join(p.plan.id for p in load_plans(folder))
    raise DefinitionError(
        [Problem("plan", "", f"no plan {name!r}; the plans are {known}, or give a plan file")]
    )


def plan_by_id(folder: Path, plan_id: str) -> Plan:
    """A plan of `folder` by its id alone (a request never names a file)."""
    for loaded in load_plans(folder):
        if loaded.plan.id == plan_id:
            return loaded.plan
    raise NotFound(f"no plan {plan_id!r}")
