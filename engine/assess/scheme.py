"""Scoring schemes (考核细则): per item of a plan, its points and what costs or earns them, for one year.

A scheme is a YAML file beside the definitions (`definitions/schemes/*.yaml`), refused
whole with `FILE:LINE: field: message` like a definition, and stored as versions: a changed
file is a new version, an unchanged one is not stored again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from duban.engine.errors import DefinitionError, Problem
from duban.engine.language.loader import line_of, read_mapping
from duban.engine.validation import dotted, message_of

MAX_POINTS = 1000.0


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quality(Strict):
    """Points the approver gives for the quality of the work, on approval (评分)."""

    max: float = Field(gt=0, le=MAX_POINTS)


class SchemeItem(Strict):
    """One item of the plan and how it is scored."""

    definition: str = Field(min_length=1, max_length=64)
    points: float = Field(gt=0, le=MAX_POINTS, description="the item's full points, quality included")
    late: float = Field(default=0, ge=-MAX_POINTS, le=0, description="per task handed in after its deadline")
    missing: float = Field(
        default=0, ge=-MAX_POINTS, le=0, description="per task still not done past its deadline"
    )
    rejected: float = Field(default=0, ge=-MAX_POINTS, le=0, description="per time the work was sent back")
    quality: Quality | None = None

    @model_validator(mode="after")
    def _quality_within(self) -> SchemeItem:
        if self.quality is not None and self.quality.max > self.points:
            raise ValueError(
                f"quality.max ({self.quality.max:g}) is more than the item's points ({self.points:g})"
            )
        return self


class Bonus(Strict):
    """A bonus item (加分项) the assessing union awards, up to `max` points."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    label: str = Field(min_length=1, max_length=100)
    label_en: str | None = Field(
        default=None, min_length=1, max_length=100, description="the English pages fall back to `label`"
    )
    max: float = Field(gt=0, le=MAX_POINTS)


class Scheme(Strict):
    """A scoring scheme for one year."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
    title: str = Field(min_length=1, max_length=200)
    title_en: str | None = Field(
        default=None, min_length=1, max_length=200, description="the English pages fall back to `title`"
    )
    year: int = Field(ge=2000, le=2100)
    plan: str | None = Field(default=None, max_length=64, description="the plan the items come from, if any")
    source: str | None = Field(default=None, max_length=500, description="the document that sets the rules")
    items: list[SchemeItem] = Field(min_length=1)
    bonus: list[Bonus] = Field(default_factory=list)

    @field_validator("items")
    @classmethod
    def _items_once(cls, items: list[SchemeItem]) -> list[SchemeItem]:
        seen: set[str] = set()
        for item in items:
            if item.definition in seen:
                raise ValueError(f"the item {item.definition!r} is listed twice")
            seen.add(item.definition)
        return items

    @field_validator("bonus")
    @classmethod
    def _bonus_once(cls, bonus: list[Bonus]) -> list[Bonus]:
        ids = [b.id for b in bonus]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"the bonus item {twice[0]!r} is listed twice")
        return bonus

    def item(self, def_id: str) -> SchemeItem | None:
        """The scheme's item for a definition, if it scores it."""
        return next((i for i in self.items if i.definition == def_id), None)

    def bonus_item(self, bonus_id: str) -> Bonus | None:
        """The bonus item with this id, if any."""
        return next((b for b in self.bonus if b.id == bonus_id), None)


def digest_of(scheme: Scheme) -> str:
    """What identifies a version: the scheme's meaning, not its formatting."""
    meaning = scheme.model_dump(mode="json")
    # English names left out are left out of the digest: a file stored before they existed is unchanged.
    if meaning["title_en"] is None:
        del meaning["title_en"]
    for bonus in meaning["bonus"]:
        if bonus["label_en"] is None:
            del bonus["label_en"]
    canonical = json.dumps(meaning, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_scheme(text: str, name: str) -> Scheme:
    """One scheme file's text, validated; a DefinitionError names the file, the line and the field."""
    data, lines = read_mapping(text, name, "scheme")
    try:
        return Scheme.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(p for p in error["loc"] if p != "[key]")
            problems.append(Problem(f"{name}:{line_of(lines, loc)}", dotted(loc), message_of(error)))
        problems.sort(key=lambda p: int(p.where.rsplit(":", 1)[1]))
        raise DefinitionError(problems) from None


def load_scheme_paths(paths: list[Path]) -> list[tuple[Scheme, str, str]]:
    """Every scheme in these files or folders as (scheme, file name, text); refused whole on any problem."""
    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.glob("*.y*ml")) if path.is_dir() else [path]
    loaded, problems = [], []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
            loaded.append((parse_scheme(text, str(file)), str(file), text))
        except FileNotFoundError:
            problems.append(Problem(str(file), "", "no such file or directory"))
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(file), "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        except DefinitionError as exc:
            problems += exc.problems
    if not files:
        problems.append(Problem(", ".join(map(str, paths)), "", "no scheme files (*.yaml)"))
    ids = [s.id for s, _, _ in loaded]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem(dup, "id", "two files define this scheme"))
    if problems:
        raise DefinitionError(problems)
    return loaded


def scheme_json(scheme: Scheme, version: int | None = None) -> dict[str, Any]:
    """The scheme as the API and `--json` show it."""
    return {**scheme.model_dump(mode="json"), **({"version": version} if version is not None else {})}
