"""The seed plan as definitions: every file loads, the language is used whole, and every item traces to its clause."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from duban.engine.language.durations import parse_duration
from duban.engine.language.loader import LoadedDefinition, load_paths
from duban.engine.language.model import (
    AssignedTrigger,
    Definition,
    DueAfter,
    DueEndOfPeriod,
    DueOn,
    DueWorkdays,
    EventTrigger,
    Every,
    EveryTrigger,
)
from duban.engine.time.calendar import WorkCalendar
from duban.engine.time.periods import period_of
from duban.engine.time.timeline import compute_timeline, recurring_trigger_at

ROOT = Path(__file__).parents[2]
DEFINITIONS = ROOT / "definitions"
COVERAGE = ROOT / "docs" / "seed-coverage.md"
SEED_NAME = "000_43598beb5c5590c8.txt"
SH = ZoneInfo("Asia/Shanghai")

# The three documents of the seed and how a clause of each is numbered:
# 意见 三(三) / 意见 五 (a section's opening paragraph); 信访局工会计划 二、1; 学院工会计划 三、5.
SOURCE = re.compile(
    r"^(?:意见 [一二三四五](?:\([一二三四五六七八九十]+\))?"
    r"|信访局工会计划 [一二]、[1-9]"
    r"|学院工会计划 [一二三四]、[1-9])"
    r"：\S"
)


@pytest.fixture(scope="module")
def loaded() -> list[LoadedDefinition]:
    return load_paths([DEFINITIONS])


@pytest.fixture(scope="module")
def definitions(loaded: list[LoadedDefinition]) -> list[Definition]:
    return [item.definition for item in loaded]


def by_id(definitions: list[Definition], def_id: str) -> Definition:
    return next(d for d in definitions if d.id == def_id)


def test_every_file_loads(loaded: list[LoadedDefinition]) -> None:
    files = sorted(DEFINITIONS.glob("*.yaml")) + sorted(DEFINITIONS.glob("*.yml"))
    assert len(loaded) == len(files)
    assert len(loaded) >= 35


def test_ids_equal_file_stems(loaded: list[LoadedDefinition]) -> None:
    assert [
        (Path(item.path).stem, item.definition.id)
        for item in loaded
        if Path(item.path).stem != item.definition.id
    ] == []


def test_every_trigger_kind_and_period_is_used(definitions: list[Definition]) -> None:
    kinds = {type(d.trigger) for d in definitions}
    assert kinds == {AssignedTrigger, EveryTrigger, EventTrigger}
    periods = {d.trigger.every.value for d in definitions if isinstance(d.trigger, EveryTrigger)}
    assert periods == {"year", "half_year", "quarter", "month", "week"}


def test_every_due_kind_is_used(definitions: list[Definition]) -> None:
    kinds = {type(d.due) for d in definitions}
    assert {DueAfter, DueWorkdays, DueOn, DueEndOfPeriod} <= kinds
    afters = [parse_duration(d.due.after) for d in definitions if isinstance(d.due, DueAfter)]
    assert any(a.date_granular for a in afters), "a date-granular after: (P1Y, P3M, ...)"
    assert any(not a.date_granular for a in afters), "an exact after: in hours (PT24H)"


def test_every_completion_kind_is_used(definitions: list[Definition]) -> None:
    def kinds(d: Definition) -> set[str]:
        c = d.completion
        found = {
            name
            for name, used in (("form", c.form), ("attachments", c.attachments), ("target", c.target))
            if used
        }
        if d.times > 1:
            found.add("times")
        return found or {"done"}

    used = set().union(*(kinds(d) for d in definitions))
    assert used == {"done", "form", "attachments", "target", "times"}
    assert any(kinds(d) == {"attachments"} for d in definitions), "an item whose evidence is only files"


def test_every_form_field_type_and_rule_is_used(definitions: list[Definition]) -> None:
    fields = [f for d in definitions for f in d.completion.form.values()]
    assert {f.type for f in fields} == {"string", "text", "integer", "number", "date", "boolean", "choice"}
    assert any(f.required for f in fields)
    assert any(f.min is not None for f in fields) and any(f.max is not None for f in fields)
    assert any(f.in_period for f in fields)


def test_approval_and_escalation_use_every_kind_of_target(definitions: list[Definition]) -> None:
    approvers = {a for d in definitions for a in d.approval}
    escalated_to = {step.to for d in definitions for step in d.escalation}
    assert {"parent", "issuer", "county"} <= approvers
    assert {"parent", "grandparent", "municipal", "county"} <= escalated_to
    assert any(not d.approval for d in definitions), "an item whose done is final"
    assert any(d.applies_to.where for d in definitions)


def test_every_source_names_a_document_and_clause(definitions: list[Definition]) -> None:
    assert [d.source for d in definitions if not SOURCE.match(d.source)] == []


def _normalise(text: str) -> str:
    # The seed mixes ASCII and full-width punctuation; compare the words, not the commas.
    table = str.maketrans({"，": ",", "（": "(", "）": ")", "：": ":", "；": ";", "、": "、"})
    return re.sub(r"\s+", "", text.translate(table))


def _seed_text() -> str | None:
    for folder in (ROOT / "seed", ROOT.parent / "shared" / "seed", ROOT.parents[1] / "shared" / "seed"):
        if (folder / SEED_NAME).is_file():
            return (folder / SEED_NAME).read_text(encoding="utf-8")
    return None


def test_every_source_quotes_the_seed_word_for_word(definitions: list[Definition]) -> None:
    seed = _seed_text()
    if seed is None:
        pytest.skip(f"the seed document {SEED_NAME} is not in this checkout")
    plain = _normalise(seed)
    misquoted = [
        (d.id, fragment)
        for d in definitions
        for fragment in d.source.split("：", 1)[1].split("……")
        if _normalise(fragment) not in plain
    ]
    assert misquoted == []


def test_the_coverage_doc_maps_every_definition(definitions: list[Definition]) -> None:
    text = COVERAGE.read_text(encoding="utf-8")
    assert [d.id for d in definitions if f"`{d.id}`" not in text] == []


def test_the_coverage_doc_names_no_definition_that_does_not_exist(definitions: list[Definition]) -> None:
    known = {d.id for d in definitions}
    rows = [line for line in COVERAGE.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    named = {
        token for row in rows for token in re.findall(r"`([a-z0-9][a-z0-9-]+[a-z0-9])`", row) if "-" in token
    }
    assert named - known == set()


def test_the_items_the_plan_is_known_for_have_their_expected_shape(definitions: list[Definition]) -> None:
    onboarding = by_id(definitions, "cadre-onboarding-training")
    assert onboarding.trigger == EventTrigger(event="cadre.appointed") and onboarding.due == DueAfter(
        after="P1Y"
    )
    congress = by_id(definitions, "member-congress-annual")
    assert congress.trigger == EveryTrigger(every=Every.year) and "held_on" in congress.completion.form
    assert congress.completion.attachments is not None and congress.completion.attachments.min >= 2
    incident = by_id(definitions, "group-incident-report")
    assert incident.trigger == EventTrigger(event="incident.reported")
    assert isinstance(incident.due, DueAfter) and not parse_duration(incident.due.after).date_granular
    organising = by_id(definitions, "non-public-union-organising")
    assert organising.completion.target is not None and organising.completion.target.measure == "new_unions"
    assert by_id(definitions, "member-birthday-greeting").trigger == EventTrigger(event="member.birthday")
    transfer = by_id(definitions, "membership-transfer-acceptance")
    assert transfer.trigger == EventTrigger(event="membership.transfer_requested")
    assert isinstance(transfer.due, DueWorkdays)
    assert by_id(definitions, "association-weekly-activity").trigger == EveryTrigger(every=Every.week)
    assert by_id(definitions, "association-monthly-competition").trigger == EveryTrigger(every=Every.month)
    display = by_id(definitions, "double-display")
    assert display.trigger == AssignedTrigger()
    assert set(display.applies_to.tags) == {"enterprise", "non_public"}
    assert display.completion.attachments is not None and len(display.completion.attachments.labels) == 2


def test_attachment_labels_never_exceed_the_files_required(definitions: list[Definition]) -> None:
    # Each label names one required file, so min must cover them all.
    short = [
        d.id
        for d in definitions
        if d.completion.attachments and d.completion.attachments.min < len(d.completion.attachments.labels)
    ]
    assert short == []


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar.load()


def test_every_definition_previews(definitions: list[Definition], calendar: WorkCalendar) -> None:
    assigned_at = datetime(2026, 3, 11, 10, 0, tzinfo=SH)
    for d in definitions:
        if isinstance(d.trigger, EveryTrigger):
            period = period_of(d.trigger.every, assigned_at.date())
            # Preview from the period's start, so a yearly item due 03-08 is not already late.
            trigger_at = recurring_trigger_at(period, datetime(2026, 1, 1, tzinfo=SH), SH)
        else:
            period = None
            trigger_at = assigned_at
        timeline = compute_timeline(d, trigger_at, period=period, explicit_due=None, calendar=calendar, tz=SH)
        assert timeline.due_at > timeline.trigger_at, d.id
        assert timeline.overdue_at >= timeline.due_at, d.id
        assert all(trigger_at < r.at < timeline.overdue_at for r in timeline.reminders), d.id
        assert len(timeline.escalations) == len(d.escalation), d.id
        assert all(e.at >= timeline.overdue_at for e in timeline.escalations), d.id
        if d.reminders:
            assert timeline.reminders, f"{d.id}: every reminder fell outside the task's life"
        assert set(timeline.to_json()) >= {"trigger_at", "due_at", "overdue_at", "reminders", "escalations"}
