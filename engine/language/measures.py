"""Measures (台账 figures): what a definition's submitted forms add up to, per unit and up the tree.

A measure is one of:
- `sum: FIELD` / `avg: FIELD` — a numeric form field of the approved (done) tasks;
- `count: done | on_time | tasks | overdue` — tasks of the item, counted;
- `rate: [NUMERATOR, DENOMINATOR]` — two other measures (or the counts above), divided at
  every level from their sums, never by averaging the children's rates.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Counts every item has without declaring them; a rate may name them directly.
COUNTS = ("tasks", "done", "on_time", "overdue")


class Count(StrEnum):
    """What a `count:` measure counts among the item's tasks of the period."""

    tasks = "tasks"
    done = "done"
    on_time = "on_time"
    overdue = "overdue"


MeasureId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Measure(BaseModel):
    """One figure of the ledger: a sum or an average of a form field, a count, or a rate of two others."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=60, description="the column header, e.g. 慰问户数")
    label_en: str | None = None
    unit: str | None = Field(default=None, max_length=10, description="what one counts, e.g. 户, 元, %")
    sum: str | None = Field(default=None, description="a numeric form field, summed")
    avg: str | None = Field(default=None, description="a numeric form field, averaged over the done tasks")
    count: Count | None = None
    rate: tuple[MeasureId, MeasureId] | None = Field(default=None, description="[numerator, denominator]")

    @model_validator(mode="after")
    def _one_kind(self) -> Measure:
        kinds = [k for k in ("sum", "avg", "count", "rate") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a measure is exactly one of sum: FIELD, avg: FIELD, count: WHAT, rate: [A, B]")
        return self

    @property
    def field(self) -> str | None:
        """The form field a sum or an average reads."""
        return self.sum or self.avg


def check_measures(measures: dict[str, Measure], numeric_fields: set[str], all_fields: set[str]) -> None:
    """Every field a measure reads is a numeric form field; every rate names measures that are not rates."""
    for name, m in measures.items():
        if m.field is not None and m.field not in numeric_fields:
            what = (
                "is not a number or integer field" if m.field in all_fields else "is not a field of the form"
            )
            raise ValueError(f"measures.{name}: {m.field!r} {what}")
        if m.rate is not None:
            for part in m.rate:
                if part in COUNTS:
                    continue
                if part not in measures:
                    raise ValueError(
                        f"measures.{name}: rate names {part!r}, which is neither a measure here nor one of "
                        + ", ".join(COUNTS)
                    )
                if measures[part].rate is not None:
                    raise ValueError(f"measures.{name}: a rate cannot be made of another rate ({part})")
