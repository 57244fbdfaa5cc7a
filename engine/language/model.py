"""The definition language: one plan item, as the Pydantic models a YAML file must fit.

Every field here is part of the product's contract and is documented in
docs/definitions.md. The models validate shape and local rules; rules that span
fields (an `on:` deadline needs a recurring trigger, ...) live in `Definition`'s
model validator so that a file is judged as a whole.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from duban.engine.language.durations import Duration, parse_duration
from duban.engine.language.measures import Measure, MeasureId, check_measures


class Level(StrEnum):
    """The levels of the union hierarchy, from the top."""

    national = "national"
    provincial = "provincial"
    municipal = "municipal"
    county = "county"
    township = "township"
    grassroots = "grassroots"
    sub = "sub"


LEVEL_ORDER = [lv.value for lv in Level]


class Every(StrEnum):
    """The local calendar periods a recurring item repeats on."""

    year = "year"
    half_year = "half_year"
    quarter = "quarter"
    month = "month"
    week = "week"


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt field must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


DurationStr = Annotated[str, Field(description="ISO-8601 duration, e.g. P1Y, P30D, PT24H")]


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


# --- who receives an escalation or approves --------------------------------------

RELATIVE_TARGETS = ("parent", "grandparent", "issuer")


def _check_target(value: str) -> str:
    if value not in RELATIVE_TARGETS and value not in LEVEL_ORDER:
        raise ValueError(
            f"{value!r} is not one of parent, grandparent, issuer or a level ({', '.join(LEVEL_ORDER)})"
        )
    return value


# --- applies_to ------------------------------------------------------------------


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not re.fullmatch(r"[a-z0-9_]+", tag):
            raise ValueError(f"tag {tag!r} must be lower-case letters, digits or _")
    return tags


Scalar = str | int | float | bool
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in")
ORDERING = ("<", "<=", ">", ">=")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_where(value: Any) -> Any:
    """A plain value means equality; a mapping holds comparisons that must all hold."""
    if isinstance(value, (str, int, float, bool)):
        return value
    if not isinstance(value, dict) or not value:
        got = "a list" if isinstance(value, list) else "an empty mapping" if value == {} else repr(value)
        raise ValueError(
            f'expected text, a number, true/false or comparisons such as {{">=": 100}}; got {got}'
        )
    for op, operand in value.items():
        if op not in OPERATORS:
            raise ValueError(f"unknown comparison {op!r}; one of {', '.join(OPERATORS)}")
        if op == "in":
            if not isinstance(operand, list) or not operand:
                raise ValueError("in: expects a non-empty list such as [state_owned, collective]")
            if not all(isinstance(v, (str, int, float, bool)) for v in operand):
                raise ValueError("in: the list may hold only text, numbers and true/false")
        elif op in ORDERING:
            if not _is_number(operand):
                raise ValueError(f"{op!r} compares numbers; got {operand!r}")
        elif not isinstance(operand, (str, int, float, bool)):
            raise ValueError(f"{op!r} expects text, a number or true/false")
    return value


WhereValue = Annotated[Any, AfterValidator(_check_where)]


class Ancestor(Strict):
    """`under:` — some unit above the candidate, inside the scope, matches all of these."""

    levels: list[Level] = Field(default_factory=list, description="any of these levels")
    tags: list[str] = Field(default_factory=list, description="all of these tags")
    tags_any: list[str] = Field(default_factory=list, description="at least one of these tags")
    tags_none: list[str] = Field(default_factory=list, description="none of these tags")

    _tags = field_validator("tags", "tags_any", "tags_none")(_check_tags)

    @model_validator(mode="after")
    def _not_empty(self) -> Ancestor:
        if not (self.levels or self.tags or self.tags_any or self.tags_none):
            raise ValueError("names no level or tag; say which units above count")
        return self


class AppliesTo(Strict):
    """Which units inside an assignment's scope get tasks; every rule given must hold."""

    levels: list[Level] = Field(
        default_factory=list, description="any of these levels; empty means every level"
    )
    tags: list[str] = Field(default_factory=list, description="all of these tags")
    tags_any: list[str] = Field(default_factory=list, description="at least one of these tags")
    tags_none: list[str] = Field(default_factory=list, description="none of these tags")
    where: dict[str, WhereValue] = Field(
        default_factory=dict, description="attrs equal to a value, or passing comparisons"
    )
    under: Ancestor | None = Field(default=None, description="an ancestor inside the scope matches")

    _tags = field_validator("tags", "tags_any", "tags_none")(_check_tags)

    @field_validator("where")
    @classmethod
    def _attr_names(cls, where: dict[str, Any]) -> dict[str, Any]:
        for name in where:
            # The name goes into a JSON path ($."name") on SQLite; quotes would end it.
            if not name or any(c in name for c in '"\\') or not name.isprintable():
                raise ValueError(f"attribute name {name!r} may not be empty or hold quotes or backslashes")
        return where

    @model_validator(mode="after")
    def _consistent(self) -> AppliesTo:
        both = (set(self.tags) | set(self.tags_any)) & set(self.tags_none)
        if both:
            raise ValueError(f"tags_none: {', '.join(sorted(both))} is also required, so no unit could match")
        return self


# --- triggers --------------------------------------------------------------------


class AssignedTrigger(Strict):
    """One task per matching unit, once, when the item is assigned."""

    kind: Literal["assigned"] = "assigned"


class EveryTrigger(Strict):
    """One task per unit per local calendar period; `times` occurrences count up."""

    every: Every
    times: int = Field(default=1, ge=1, le=366)


PERSON_NOUNS = ("cadre", "member")


class EventTrigger(Strict):
    """One task per posted event of this name whose unit is in scope."""

    event: str
    subject: Literal["person", "none"] | None = Field(
        default=None,
        description="person: the event names a person of its unit; default person for cadre.* and member.*",
    )

    @property
    def about_person(self) -> bool:
        if self.subject is not None:
            return self.subject == "person"
        return self.event.split(".", 1)[0] in PERSON_NOUNS

    @field_validator("event")
    @classmethod
    def _event_name(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", name):
            raise ValueError(f"event name {name!r} must look like noun.verb, e.g. cadre.appointed")
        return name


Trigger = AssignedTrigger | EveryTrigger | EventTrigger


def _parse_trigger(value: Any) -> Any:
    if value == "assigned":
        return AssignedTrigger()
    return value


# --- deadlines -------------------------------------------------------------------


class DueAfter(Strict):
    """A duration from the trigger (from the period's start for recurring items)."""

    after: str

    _check = field_validator("after")(_check_duration)


class DueWorkdays(Strict):
    """The N-th working day after the trigger, on the statutory calendar."""

    workdays: int = Field(ge=1, le=3660)


class DueOn(Strict):
    """A month and day inside a yearly period."""

    on: str

    @field_validator("on")
    @classmethod
    def _month_day(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{2})-(\d{2})", value)
        if not match:
            raise ValueError(f'{value!r} must be MM-DD, e.g. "06-30"')
        month, day = int(match[1]), int(match[2])
        days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if not (1 <= month <= 12 and 1 <= day <= days[month - 1]):
            raise ValueError(f"{value!r} is not a day of the year")
        if (month, day) == (2, 29):
            raise ValueError("02-29 does not exist every year; use 02-28 or end_of_period")
        return value


class DueEndOfPeriod(Strict):
    """The last day of the recurring period."""

    kind: Literal["end_of_period"] = "end_of_period"


# The statutory holidays of 全国年节及纪念日放假办法, by the names a definition uses.
HOLIDAYS = (
    "new_year",
    "spring_festival",
    "qingming",
    "labour_day",
    "dragon_boat",
    "mid_autumn",
    "national_day",
)


class DueBeforeHoliday(Strict):
    """The N-th working day before the first rest day of a statutory holiday's break in the task's year."""

    before_holiday: str
    workdays: int = Field(ge=1, le=250)

    @field_validator("before_holiday")
    @classmethod
    def _holiday(cls, value: str) -> str:
        if value not in HOLIDAYS:
            raise ValueError(f"{value!r} is not a statutory holiday ({', '.join(HOLIDAYS)})")
        return value


class DueSetAtAssignment(Strict):
    """择期: the assigning union gives the date; an assignment without one is refused."""

    kind: Literal["set_at_assignment"] = "set_at_assignment"


Due = DueAfter | DueWorkdays | DueOn | DueEndOfPeriod | DueBeforeHoliday | DueSetAtAssignment

_DUE_WORDS: dict[str, Any] = {
    "end_of_period": DueEndOfPeriod,
    "set_at_assignment": DueSetAtAssignment,
}


def _parse_due(value: Any) -> Any:
    if isinstance(value, str) and value in _DUE_WORDS:
        return _DUE_WORDS[value]()
    return value


# --- time rules: window, rest days, late assignment ------------------------------


def _month_day(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2})-(\d{2})", value)
    if not match:
        raise ValueError(f'{value!r} must be MM-DD, e.g. "07-01"')
    month, day = int(match[1]), int(match[2])
    days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (1 <= month <= 12 and 1 <= day <= days[month - 1]):
        raise ValueError(f"{value!r} is not a day of the year")
    if (month, day) == (2, 29):
        raise ValueError("02-29 does not exist every year; use 02-28 or 03-01")
    return month, day


class Window(Strict):
    """A stretch of the task's year the work belongs to: from `not_before` to `until` (MM-DD, both included)."""

    not_before: str = "01-01"
    until: str = "12-31"

    @field_validator("not_before", "until")
    @classmethod
    def _day(cls, value: str) -> str:
        _month_day(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if _month_day(self.until) < _month_day(self.not_before):
            raise ValueError(f"until {self.until} is before not_before {self.not_before}")
        return self

    @property
    def start(self) -> tuple[int, int]:
        """The first (month, day) of the window."""
        return _month_day(self.not_before)

    @property
    def end(self) -> tuple[int, int]:
        """The last (month, day) of the window."""
        return _month_day(self.until)


# The named halves a plan writes as 上半年 / 下半年.
WINDOWS = {
    "first_half": Window(not_before="01-01", until="06-30"),
    "second_half": Window(not_before="07-01", until="12-31"),
}


def _parse_window(value: Any) -> Any:
    if isinstance(value, str):
        if value in WINDOWS:
            return WINDOWS[value]
        raise ValueError(
            f'{value!r} is not a window; write first_half, second_half or {{not_before: "07-01"}}'
        )
    return value


class OnRestDay(StrEnum):
    """What a deadline that falls on a rest day does (民法典 第二百零三条 moves it)."""

    next_working_day = "next_working_day"
    keep = "keep"


class LateAssignment(Strict):
    """What a task gets when its fixed date has already passed at assignment: skip, or a grace period."""

    skip: bool = False
    grace: str | None = None

    @field_validator("grace")
    @classmethod
    def _grace(cls, value: str | None) -> str | None:
        if value is None:
            return value
        span = parse_duration(value)
        if not span.date_granular:
            raise ValueError(f"{value!r}: a grace period is whole days, e.g. P30D")
        if span.years == span.months == span.days == 0:
            raise ValueError(f"{value!r}: a grace period must be at least one day")
        return value

    @model_validator(mode="after")
    def _one(self) -> LateAssignment:
        if self.skip == (self.grace is not None):
            raise ValueError("write either skip or {grace: P30D}, not both or neither")
        return self

    def __str__(self) -> str:
        return "skip" if self.skip else f"grace:{self.grace}"


# Nothing is born overdue by surprise: a fixed date already passed gives 30 days from the assignment.
DEFAULT_LATE = LateAssignment(grace="P30D")


def parse_late(value: Any) -> Any:
    """`skip`, `grace:P30D` (the command line's spelling) or a mapping, as a LateAssignment's input."""
    if isinstance(value, str):
        text = value.strip()
        if text == "skip":
            return LateAssignment(skip=True)
        if text.startswith("grace:"):
            return {"grace": text.removeprefix("grace:").strip()}
        raise ValueError(f"{value!r} is not a late-assignment rule; write skip or {{grace: P30D}}")
    return value


# --- completion ------------------------------------------------------------------

FieldType = Literal["string", "text", "integer", "number", "date", "boolean", "choice"]


class FormField(Strict):
    """One field of the evidence form."""

    type: FieldType
    required: bool = False
    label: str | None = None
    label_en: str | None = None
    min: float | str | None = Field(
        default=None,
        description="integer/number: least value, or the name of another numeric field of the form; "
        "string/text: least length; date: today or the name of another date field",
    )
    max: float | str | None = Field(
        default=None,
        description="integer/number: greatest value, or the name of another numeric field of the form; "
        "string/text: greatest length; date: today or the name of another date field",
    )
    options: list[str] | None = Field(default=None, description="choice: the allowed values")
    in_period: bool = Field(default=False, description="date: must fall inside the task's period")

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type == "choice" and not self.options:
            raise ValueError("a choice field needs options")
        if self.type != "choice" and self.options is not None:
            raise ValueError("options are only for choice fields")
        if self.in_period and self.type != "date":
            raise ValueError("in_period is only for date fields")
        bounds = [b for b in (self.min, self.max) if b is not None]
        if bounds and self.type in ("boolean", "choice"):
            raise ValueError(f"min/max do not apply to {self.type} fields")
        if self.type == "date" and any(not isinstance(b, str) for b in bounds):
            raise ValueError("a date field's min/max is today or the name of another date field")
        if self.type in ("string", "text") and any(isinstance(b, str) for b in bounds):
            raise ValueError("a text field's min/max is a number of characters")
        if isinstance(self.min, float) and isinstance(self.max, float) and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Attachments(Strict):
    """Files the evidence must carry."""

    min: int = Field(default=1, ge=0, le=50)
    max: int = Field(default=20, ge=1, le=100)
    labels: list[str] = Field(default_factory=list, description="each label names one required file")

    @model_validator(mode="after")
    def _consistent(self) -> Attachments:
        if self.min > self.max:
            raise ValueError("min is greater than max")
        if len(self.labels) > self.max:
            raise ValueError("more labels than max files")
        return self


class Target(Strict):
    """A numeric target set per unit at assignment; progress is reported in increments."""

    measure: str
    unit_label: str | None = Field(default=None, description="what one counts, e.g. 家 or 人")
    default: float | None = Field(
        default=None, gt=0, description="target when the assignment gives none for a unit"
    )
    integer: bool = Field(
        default=True, description="whole numbers only (unions, people); false for a measure such as 万元"
    )
    counts: Literal["both", "children", "own"] = Field(
        default="both",
        description="what reaches a unit's target: its own reports and its children's approved progress "
        "(both), only the children's where it has children (children), or only its own (own)",
    )

    @field_validator("measure")
    @classmethod
    def _measure(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError(f"measure {value!r} must be lower-case letters, digits or _")
        return value

    @model_validator(mode="after")
    def _whole_default(self) -> Target:
        if self.integer and self.default is not None and self.default != int(self.default):
            raise ValueError(f"default {self.default:g} is not a whole number (integer: true)")
        return self


class Completion(Strict):
    """What finishing a task takes; empty means a plain "done"."""

    form: dict[str, FormField] = Field(default_factory=dict)
    attachments: Attachments | None = None
    target: Target | None = None

    @field_validator("form")
    @classmethod
    def _names(cls, form: dict[str, FormField]) -> dict[str, FormField]:
        for name in form:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"form field name {name!r} must be lower-case letters, digits or _")
        for name, spec in form.items():
            for bound in (spec.min, spec.max):
                if isinstance(bound, str):
                    _check_bound(form, name, spec, bound)
        return form


def _check_bound(form: dict[str, FormField], name: str, spec: FormField, bound: str) -> None:
    """A bound that names something: today (dates) or another field of the same kind."""
    if spec.type == "date" and bound == "today":
        return
    numeric = ("integer", "number")
    other = form.get(bound)
    if other is None or bound == name:
        hint = "today or " if spec.type == "date" else ""
        raise ValueError(f"form field {name}: bound {bound!r} is not {hint}another field of this form")
    if (spec.type == "date") != (other.type == "date") or (spec.type in numeric) != (other.type in numeric):
        raise ValueError(
            f"form field {name}: bound {bound!r} is a {other.type} field; compare like with like"
        )


# --- escalation ------------------------------------------------------------------


class EscalationStep(Strict):
    """After this long past the due time, raise the task to this unit."""

    after: str
    to: str

    _check_after = field_validator("after")(_check_duration)
    _check_to = field_validator("to")(_check_target)


class ApprovalDue(Strict):
    """How long an approver may take: N working days from the submission, then its parent hears of it."""

    workdays: int = Field(default=5, ge=1, le=60)


# --- the whole item ----------------------------------------------------------------


class Definition(Strict):
    """One plan item."""

    id: str
    title: str = Field(min_length=1)
    title_en: str | None = Field(default=None, min_length=1, description="the title falls back to it")
    source: str | None = Field(
        default=None, min_length=1, description="the clause of the plan this item comes from"
    )
    description: str | None = None
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    trigger: Annotated[Trigger, Field(union_mode="left_to_right")]
    due: Annotated[Due, Field(union_mode="left_to_right")] | None = None
    reminders: list[str] = Field(default_factory=list)
    completion: Completion = Field(default_factory=Completion)
    approval: list[str] = Field(default_factory=list)
    approval_due: ApprovalDue = Field(default_factory=lambda: ApprovalDue())
    escalation: list[EscalationStep] = Field(default_factory=list)
    window: Window | None = None
    on_rest_day: OnRestDay = OnRestDay.next_working_day
    late_assignment: LateAssignment | None = None
    measures: dict[MeasureId, Measure] = Field(
        default_factory=dict, description="台账 figures: sums, counts and rates of the submitted forms"
    )
    defaults: list[str] = Field(
        default_factory=list,
        description="dotted fields whose values are the office's suggested default, not the plan's words",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]", value):
            raise ValueError(f"{value!r} must be 3-64 lower-case letters, digits and dashes")
        return value

    @field_validator("trigger", mode="before")
    @classmethod
    def _trigger(cls, value: Any) -> Any:
        return _parse_trigger(value)

    @field_validator("due", mode="before")
    @classmethod
    def _due(cls, value: Any) -> Any:
        return _parse_due(value)

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        return _parse_window(value)

    @field_validator("late_assignment", mode="before")
    @classmethod
    def _late(cls, value: Any) -> Any:
        return parse_late(value)

    @field_validator("reminders")
    @classmethod
    def _reminders(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_duration(value)
        if len(set(values)) != len(values):
            raise ValueError("the same reminder is listed twice")
        return values

    @field_validator("approval")
    @classmethod
    def _approval(cls, values: list[str]) -> list[str]:
        for value in values:
            _check_target(value)
        return values

    @model_validator(mode="before")
    @classmethod
    def _english_title(cls, data: Any) -> Any:
        # An office writing its own item in Chinese need not invent an English title.
        if isinstance(data, dict) and data.get("title_en") is None and isinstance(data.get("title"), str):
            return {**data, "title_en": data["title"]}
        return data

    @field_validator("defaults")
    @classmethod
    def _defaults_plain(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*", value):
                raise ValueError(f"{value!r} must be a dotted field name such as due or completion.target")
        if len(set(values)) != len(values):
            raise ValueError("the same field is listed twice")
        return values

    @model_validator(mode="after")
    def _whole(self) -> Definition:
        recurring = isinstance(self.trigger, EveryTrigger)
        if isinstance(self.due, DueEndOfPeriod) and not recurring:
            raise ValueError("due: end_of_period needs a recurring trigger (every: ...)")
        if isinstance(self.due, DueOn) and (not recurring or self.trigger.every != Every.year):  # type: ignore[union-attr]
            raise ValueError("due: on MM-DD needs trigger every: year")
        if self.completion.target is not None and recurring and self.trigger.times > 1:  # type: ignore[union-attr]
            raise ValueError("a numeric target and times: N cannot both count progress")
        for name, spec in self.completion.form.items():
            if spec.in_period and not recurring:
                raise ValueError(f"form field {name}: in_period needs a recurring trigger")
        self._check_time_rules(recurring)
        form = self.completion.form
        check_measures(
            self.measures, {k for k, f in form.items() if f.type in ("integer", "number")}, set(form)
        )
        return self

    def _check_time_rules(self, recurring: bool) -> None:
        yearly_or_once = isinstance(self.trigger, AssignedTrigger) or (
            recurring and self.trigger.every == Every.year  # type: ignore[union-attr]
        )
        if isinstance(self.due, DueSetAtAssignment) and not isinstance(self.trigger, AssignedTrigger):
            raise ValueError(
                "due: set_at_assignment needs trigger: assigned (one date for one task per unit)"
            )
        if isinstance(self.due, DueBeforeHoliday) and not yearly_or_once:
            raise ValueError("due: before_holiday needs trigger every: year or assigned")
        if self.window is not None:
            if not yearly_or_once:
                raise ValueError("window: a window within the year needs trigger every: year or assigned")
            if isinstance(self.due, DueOn) and _month_day(self.due.on) < self.window.start:
                raise ValueError(f"window: the due date {self.due.on} is before the window opens")
        if self.late_assignment is not None and not self.fixed_due:
            raise ValueError(
                "late_assignment: only a fixed date (on, before_holiday, a window's end) can have "
                "passed at assignment"
            )

    @property
    def fixed_due(self) -> bool:
        """Whether the deadline is a date of the year that may already have passed when the item is assigned."""
        return isinstance(self.due, (DueOn, DueBeforeHoliday)) or (
            self.window is not None and self.due is None
        )

    @property
    def late_rule(self) -> LateAssignment:
        """The late-assignment rule in force: the definition's, or the default grace."""
        return self.late_assignment or DEFAULT_LATE

    @property
    def recurring(self) -> bool:
        return isinstance(self.trigger, EveryTrigger)

    @property
    def times(self) -> int:
        return self.trigger.times if isinstance(self.trigger, EveryTrigger) else 1

    def durations(self) -> tuple[list[Duration], list[Duration]]:
        """The parsed reminder and escalation offsets."""
        return (
            [parse_duration(r) for r in self.reminders],
            [parse_duration(step.after) for step in self.escalation],
        )
