"""The seed plan as definitions: every file loads, the language is used whole, and every item traces to its clause."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from duban.engine.language.durations import parse_duration
from duban.engine.language.loader import LoadedDefinition, load_paths
from duban.engine.language.model import (
    AssignedTrigger,
    Definition,
    DueAfter,
    DueEndOfPeriod,
    DueOn,
    DueSetAtAssignment,
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
        return found or {"done"}

    used = set().union(*(kinds(d) for d in definitions))
    # No `times: N`: the seed states no counts (a count is a target the assigner gives).
    assert used == {"done", "form", "attachments", "target"}
    assert all(d.times == 1 for d in definitions)
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
    assert {"parent", "issuer"} <= approvers
    assert {"parent", "grandparent", "municipal"} <= escalated_to
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
    # 企业工会特别是非公企业工会: every enterprise union, public ones included.
    assert display.applies_to.tags == ["enterprise"]
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
        # 择期: the assigner's date, as `assign --due` would give it.
        chosen = date(2026, 6, 30) if isinstance(d.due, DueSetAtAssignment) else None
        timeline = compute_timeline(
            d, trigger_at, period=period, explicit_due=chosen, calendar=calendar, tz=SH
        )
        assert timeline.due_at > timeline.trigger_at, d.id
        assert timeline.overdue_at >= timeline.due_at, d.id
        assert all(trigger_at < r.at < timeline.overdue_at for r in timeline.reminders), d.id
        assert len(timeline.escalations) == len(d.escalation), d.id
        assert all(e.at >= timeline.overdue_at for e in timeline.escalations), d.id
        if d.reminders:
            assert timeline.reminders, f"{d.id}: every reminder fell outside the task's life"
        assert set(timeline.to_json()) >= {"trigger_at", "due_at", "overdue_at", "reminders", "escalations"}


# --- every number and date: the seed's words, or the office's listed default --------

# The fields that carry a time or a count. A form's and an attachment's bounds are the shape
# of the evidence, not the plan's numbers, and are not counted here.
CHECKED = (
    "trigger.every",
    "trigger.times",
    "due",
    "window",
    "reminders",
    "escalation",
    "completion.target.default",
)

# What the seed itself states, and the words that state it (they must be in the item's
# quoted source, which another test checks against the seed word for word).
STATED = {
    "cadre-onboarding-training": {"due": "一年内"},
    "member-congress-annual": {"trigger.every": "每年至少召开一次"},
    "association-weekly-activity": {"trigger.every": "周周有活动"},
    "association-monthly-competition": {"trigger.every": "月月有赛事"},
    "campus-singer-contest": {"window": "上半年"},
    "new-staff-congress-convening": {"window": "下半年"},
}


def _written(loaded: LoadedDefinition) -> set[str]:
    """The checked fields this file writes with a time or a count in them."""
    raw = yaml.safe_load(loaded.text)
    found = set()
    trigger = raw.get("trigger")
    if isinstance(trigger, dict) and "every" in trigger:
        found.add("trigger.every")
        if "times" in trigger:
            found.add("trigger.times")
    # end_of_period follows the period; set_at_assignment is the assigner's date: no number of their own.
    if raw.get("due") not in (None, "end_of_period", "set_at_assignment"):
        found.add("due")
    for name in ("window", "reminders", "escalation"):
        if raw.get(name):
            found.add(name)
    if "default" in ((raw.get("completion") or {}).get("target") or {}):
        found.add("completion.target.default")
    return found


def test_every_number_and_date_is_the_seeds_or_a_listed_default(loaded: list[LoadedDefinition]) -> None:
    unexplained = []
    for item in loaded:
        d = item.definition
        stated = STATED.get(d.id, {})
        for name in sorted(_written(item)):
            if name in stated:
                continue
            if not any(name == f or name.startswith(f + ".") for f in d.defaults):
                unexplained.append((d.id, name))
    assert unexplained == []


def test_what_is_called_stated_is_in_the_items_own_clause(definitions: list[Definition]) -> None:
    by = {d.id: d for d in definitions}
    assert [
        (def_id, field, words)
        for def_id, fields in STATED.items()
        for field, words in fields.items()
        if words not in (by[def_id].source or "")
    ] == []


def test_no_stated_field_is_also_called_a_default(definitions: list[Definition]) -> None:
    assert [(d.id, f) for d in definitions for f in d.defaults if f in STATED.get(d.id, {})] == []


def test_the_items_the_issue_named_say_what_the_seed_says(definitions: list[Definition]) -> None:
    # 择期: the assigner sets the date.
    assert by_id(definitions, "association-appraisal").due == DueSetAtAssignment()
    # 上半年 / 下半年 are windows, not half-yearly recurrences.
    assert by_id(definitions, "campus-singer-contest").window is not None
    assert by_id(definitions, "new-staff-congress-convening").trigger == AssignedTrigger()
    # 国有、集体企业 only; 企事业 (not a bureau's 机关工会).
    restructuring = by_id(definitions, "restructuring-plan-congress-review").applies_to
    assert restructuring.tags_any == ["state_owned", "collective"]
    assert by_id(definitions, "workers-congress-annual").applies_to.tags_any == ["enterprise", "institution"]
    # Associations (sub + association) are not sub-unions: no item meant for sub-unions reaches them.
    for d in definitions:
        if "sub" in [lv.value for lv in d.applies_to.levels] and "association" not in d.applies_to.tags:
            assert "association" in d.applies_to.tags_none, d.id
    # Wage contracts go to the labour administration, not to a union's approval; all four kinds.
    wage = by_id(definitions, "wage-collective-bargaining")
    assert wage.approval == [] and "submitted_to_labour_dept_on" in wage.completion.form
    labels = " ".join(f.label or "" for f in wage.completion.form.values())
    assert [
        k for k in ("劳动安全卫生", "女职工特殊权益保护", "补充保险福利", "劳动合同管理") if k not in labels
    ] == []
    # The college's own year, answered proposals by the departments, not by the union.
    assert by_id(definitions, "annual-work-plan").applies_to.tags == ["college"]
    assert by_id(definitions, "staff-congress-proposal-handling").approval == []
    # No count the seed does not state.
    assert by_id(definitions, "bargaining-specialist-team").completion.target.default is None  # type: ignore[union-attr]


def test_the_example_scoring_scheme_scores_only_shipped_items() -> None:
    from duban.engine.assess.scheme import load_scheme_paths

    schemes = load_scheme_paths([DEFINITIONS / "schemes"])
    shipped = {p.stem for p in DEFINITIONS.glob("*.yaml")}
    for scheme, _, _ in schemes:
        # The plan states no points: an example scheme says so in its own title.
        assert scheme.title.startswith("（示例）")
        # The English pages name it and its bonus items in English too.
        assert scheme.title_en and scheme.title_en.startswith("(Example)")
        assert all(b.label_en for b in scheme.bonus)
        assert {i.definition for i in scheme.items} <= shipped


def test_what_users_read_holds_no_developer_words(definitions: list[Definition]) -> None:
    # Titles and descriptions are shown on the task page: no event names, options or field keys.
    developer = re.compile(r"[a-z_]+\.[a-z_]+|--[a-z]|\bdefaults\b|\b(?:tags?|applies_to|trigger)\b")
    found = {
        d.id: developer.findall(text)
        for d in definitions
        for text in (d.title, d.description or "")
        if developer.search(text)
    }
    assert found == {}


def test_a_date_that_records_what_happened_cannot_lie_ahead(definitions: list[Definition]) -> None:
    # A training attended, a meeting held, a contract signed: reported done, so on or before today.
    from datetime import date

    from duban.engine.errors import InvalidInput
    from duban.engine.work.evidence import validate_form

    training = by_id(definitions, "cadre-onboarding-training").completion
    today = date(2026, 3, 20)
    assert validate_form(training, {"trained_on": "2026-03-18"}, "", "t", today)["trained_on"] == "2026-03-18"
    with pytest.raises(InvalidInput, match="trained_on"):
        validate_form(training, {"trained_on": "2027-12-01"}, "", "t", today)
    required_dates = [
        (d.id, name)
        for d in definitions
        for name, spec in d.completion.form.items()
        if spec.type == "date" and spec.required and spec.max is None
    ]
    assert required_dates == []
