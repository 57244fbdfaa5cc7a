"""The definition loader: what it accepts, what it refuses, and that every refusal names FILE:LINE: field."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from duban.engine.errors import DefinitionError, InvalidInput
from duban.engine.language.loader import (
    MAX_ALIASES,
    MAX_FILE_BYTES,
    LoadedDefinition,
    load_paths,
    parse_definition,
    parse_definition_bytes,
)
from duban.engine.language.model import DueOn, EventTrigger, Every, EveryTrigger

# Four lines, so the snippets below start on line 5.
HEAD = """\
id: test-item
title: 测试事项
title_en: Test item
source: "意见 三(三)：新任工会干部一年内必须参加上岗培训"
"""

GOOD = """\
id: cadre-onboarding-training          # stable id; a changed file is a new version
title: 新任工会干部上岗培训
title_en: Onboarding training for newly appointed union cadres
source: "意见 三(三)：新任工会干部一年内必须参加上岗培训"
applies_to:
  levels: [county, township, grassroots]
  tags: []
  where: {}
trigger:
  event: cadre.appointed
due:
  after: P1Y
reminders: [P30D, P7D, P1D]
completion:
  form:
    trained_on: {type: date, required: true}
    certificate_no: {type: string}
  attachments: {min: 1}
approval: [parent]
escalation:
  - {after: P0D, to: parent}
  - {after: P30D, to: grandparent}
"""

# The same meaning as GOOD: block style, other key order, comments, defaults spelt out.
GOOD_REFORMATTED = """\
# Onboarding training, written another way.
title_en: "Onboarding training for newly appointed union cadres"
id: "cadre-onboarding-training"
source: '意见 三(三)：新任工会干部一年内必须参加上岗培训'
title: 新任工会干部上岗培训
trigger: {event: "cadre.appointed"}
due: {after: "P1Y"}
escalation:
- after: P0D
  to: parent
- after: P30D
  to: grandparent
approval:
  - parent
reminders:
  - P30D
  - P7D
  - P1D
completion:
  attachments:
    min: 1
  form:
    certificate_no:
      type: string
    trained_on:
      required: true
      type: date
applies_to: {levels: [county, township, grassroots]}
"""


def problems(text: str, name: str = "definitions/x.yaml") -> list[str]:
    """The problems parse_definition reports for `text`, as FILE:LINE: field: message strings."""
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, name)
    return [str(p) for p in caught.value.problems]


def only_problem(text: str, name: str = "definitions/x.yaml") -> str:
    found = problems(text, name)
    assert len(found) == 1, found
    return found[0]


# --- what is accepted --------------------------------------------------------------


def test_a_good_file_loads_with_its_text_and_path() -> None:
    loaded = parse_definition(GOOD, "definitions/cadre-onboarding-training.yaml")
    assert isinstance(loaded, LoadedDefinition)
    assert loaded.path == "definitions/cadre-onboarding-training.yaml"
    assert loaded.text == GOOD
    d = loaded.definition
    assert d.id == "cadre-onboarding-training"
    assert d.trigger == EventTrigger(event="cadre.appointed")
    assert d.reminders == ["P30D", "P7D", "P1D"]
    assert d.completion.form["trained_on"].required is True
    assert [(s.after, s.to) for s in d.escalation] == [("P0D", "parent"), ("P30D", "grandparent")]
    assert len(loaded.digest) == 64 and int(loaded.digest, 16) >= 0


def test_a_good_file_round_trips_through_its_dump() -> None:
    first = parse_definition(GOOD, "a.yaml")
    dumped = yaml.safe_dump(first.definition.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    second = parse_definition(dumped, "b.yaml")
    assert second.definition == first.definition
    assert second.digest == first.digest


def test_the_digest_ignores_layout_comments_and_key_order() -> None:
    assert parse_definition(GOOD_REFORMATTED, "b.yaml").digest == parse_definition(GOOD, "a.yaml").digest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("after: P1Y", "after: P2Y"),
        ("title: 新任工会干部上岗培训", "title: 新任工会干部岗前培训"),
        ("approval: [parent]", "approval: [parent, issuer]"),
        ("trained_on: {type: date, required: true}", "trained_on: {type: date, required: false}"),
        ("reminders: [P30D, P7D, P1D]", "reminders: [P7D, P1D]"),
    ],
)
def test_the_digest_changes_when_the_meaning_does(old: str, new: str) -> None:
    assert old in GOOD
    changed = parse_definition(GOOD.replace(old, new), "a.yaml")
    assert changed.digest != parse_definition(GOOD, "a.yaml").digest


def test_short_and_long_forms_of_a_trigger_are_one_meaning() -> None:
    short = parse_definition(HEAD + "trigger: assigned\n", "a.yaml")
    long = parse_definition(HEAD + "trigger: {kind: assigned}\n", "a.yaml")
    assert short.digest == long.digest


def test_on_is_a_key_and_month_day_stays_text() -> None:
    # YAML 1.1 reads a bare `on` as true and would make `due: {on: ...}` unusable.
    loaded = parse_definition(HEAD + "trigger: {every: year}\ndue: {on: 06-30}\n", "a.yaml")
    assert loaded.definition.due == DueOn(on="06-30")
    block = parse_definition(HEAD + 'trigger:\n  every: year\ndue:\n  on: "12-31"\n', "a.yaml")
    assert block.definition.due == DueOn(on="12-31")


def test_yaml_1_1_booleans_and_dates_stay_text() -> None:
    text = HEAD + (
        "description: 2026-06-30\n"
        "applies_to:\n"
        "  tags: [no, on, yes]\n"
        "  where: {since: 2020-01-01, members: 120, joint: true, ratio: 0.5}\n"
        "trigger: assigned\n"
    )
    d = parse_definition(text, "a.yaml").definition
    assert d.description == "2026-06-30"
    assert d.applies_to.tags == ["no", "on", "yes"]
    assert d.applies_to.where == {"since": "2020-01-01", "members": 120, "joint": True, "ratio": 0.5}


def test_a_byte_order_mark_is_accepted() -> None:
    loaded = parse_definition_bytes(("\ufeff" + HEAD + "trigger: assigned\n").encode("utf-8"), "a.yaml")
    assert loaded.definition.id == "test-item"


def test_aliases_within_the_bound_are_plain_reuse() -> None:
    text = HEAD + (
        "trigger: assigned\n"
        "reminders: &r [P7D, P1D]\n"
        "escalation:\n"
        "  - &up {after: P0D, to: parent}\n"
        "  - {after: P30D, to: grandparent}\n"
        "approval: [parent]\n"
    )
    d = parse_definition(text, "a.yaml").definition
    assert d.reminders == ["P7D", "P1D"]
    assert d.escalation[0].to == "parent"


# --- refusals: each names FILE:LINE: field: message --------------------------------


TRIGGER_FORMS = "assigned, {every: year|half_year|quarter|month|week, times: N} or {event: noun.verb}"
DUE_FORMS = (
    '{after: P30D}, {workdays: 10}, {on: "06-30"}, end_of_period, '
    "{before_holiday: spring_festival, workdays: 5} or set_at_assignment"
)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        pytest.param(
            "trigger: assigned\ndue:\n  after: P1Q\n",
            "definitions/x.yaml:7: due.after: 'P1Q' is not an ISO-8601 duration such as P30D or PT24H",
            id="bad-duration",
        ),
        pytest.param(
            "trigger:\n  every: weekly\n",
            "definitions/x.yaml:6: trigger.every: 'weekly' is not one of "
            "'year', 'half_year', 'quarter', 'month' or 'week'",
            id="bad-period",
        ),
        pytest.param(
            "trigger: weekly\n",
            f"definitions/x.yaml:5: trigger: 'weekly' is not a trigger; write one of {TRIGGER_FORMS}",
            id="trigger-unknown-word",
        ),
        pytest.param(
            "trigger:\n",
            f"definitions/x.yaml:5: trigger: nothing (null) is not a trigger; write one of {TRIGGER_FORMS}",
            id="trigger-null",
        ),
        pytest.param(
            "trigger: {every: year, event: cadre.appointed}\n",
            f"definitions/x.yaml:5: trigger: every and event cannot be combined; a trigger is one of {TRIGGER_FORMS}",
            id="trigger-two-forms",
        ),
        pytest.param(
            "trigger: {evry: year}\n",
            "definitions/x.yaml:5: trigger.evry: unknown field 'evry'; did you mean 'every'? "
            f"a trigger is one of {TRIGGER_FORMS}",
            id="trigger-misspelt",
        ),
        pytest.param(
            "trigger: {}\n",
            f"definitions/x.yaml:5: trigger: is empty; a trigger is one of {TRIGGER_FORMS}",
            id="trigger-empty",
        ),
        pytest.param(
            "trigger:\n  event: CadreAppointed\n",
            "definitions/x.yaml:6: trigger.event: event name 'CadreAppointed' must look like noun.verb, "
            "e.g. cadre.appointed",
            id="event-name",
        ),
        pytest.param(
            "trigger: {every: year, times: 0}\n",
            "definitions/x.yaml:5: trigger.times: must be at least 1, got 0",
            id="times-zero",
        ),
        pytest.param(
            "trigger: {every: year}\ndue: soon\n",
            f"definitions/x.yaml:6: due: 'soon' is not a deadline (due); write one of {DUE_FORMS}",
            id="due-unknown-word",
        ),
        pytest.param(
            "trigger: {every: year}\ndue: {before: P1D}\n",
            "definitions/x.yaml:6: due.before: unknown field 'before'; did you mean 'before_holiday'? "
            f"a deadline (due) is one of {DUE_FORMS}",
            id="due-unknown-key",
        ),
        pytest.param(
            "trigger: {every: year}\ndue: {after: P1D, workdays: 3}\n",
            "definitions/x.yaml:6: due: after and workdays cannot be combined; "
            f"a deadline (due) is one of {DUE_FORMS}",
            id="due-two-forms",
        ),
        pytest.param(
            "trigger: {every: year}\ndue: {}\n",
            f"definitions/x.yaml:6: due: is empty; a deadline (due) is one of {DUE_FORMS}",
            id="due-empty",
        ),
        pytest.param(
            'trigger: {every: year}\ndue:\n  on: "02-30"\n',
            "definitions/x.yaml:7: due.on: '02-30' is not a day of the year",
            id="due-on-not-a-day",
        ),
        pytest.param(
            "trigger: {every: year}\ndue: {on: 0630}\n",
            "definitions/x.yaml:6: due.on: expected text, got 630; put it in quotes",
            id="due-on-a-number",
        ),
        pytest.param(
            "trigger: {event: cadre.appointed}\ndue:\n  workdays: 0\n",
            "definitions/x.yaml:7: due.workdays: must be at least 1, got 0",
            id="workdays-zero",
        ),
        pytest.param(
            "trigger: assigned\n\ndue: end_of_period\n",
            "definitions/x.yaml:7: due: end_of_period needs a recurring trigger (every: ...)",
            id="end-of-period-needs-recurring",
        ),
        pytest.param(
            'trigger: {every: month}\ndue: {on: "06-30"}\n',
            "definitions/x.yaml:6: due: on MM-DD needs trigger every: year",
            id="on-needs-yearly",
        ),
        pytest.param(
            "trigger: {every: month, times: 2}\ncompletion:\n  target: {measure: new_unions}\n",
            "definitions/x.yaml:7: completion.target: a numeric target and times: N cannot both count progress",
            id="target-and-times",
        ),
        pytest.param(
            "trigger: assigned\ncompletion:\n  form:\n    held_on: {type: date, in_period: true}\n",
            "definitions/x.yaml:8: completion.form.held_on.in_period: in_period needs a recurring trigger",
            id="in-period-needs-recurring",
        ),
        pytest.param(
            "trigger: assigned\ncompletion:\n  form:\n    kind: {type: choice}\n",
            "definitions/x.yaml:8: completion.form.kind: a choice field needs options",
            id="choice-without-options",
        ),
        pytest.param(
            "trigger: assigned\ncompletion:\n  form:\n    n: {type: integer, requird: true}\n",
            "definitions/x.yaml:8: completion.form.n.requird: unknown field 'requird'; did you mean 'required'?",
            id="form-field-misspelt",
        ),
        pytest.param(
            "trigger: assigned\ncompletion:\n  form:\n    n: {type: float}\n",
            "definitions/x.yaml:8: completion.form.n.type: 'float' is not one of "
            "'string', 'text', 'integer', 'number', 'date', 'boolean' or 'choice'",
            id="form-type",
        ),
        pytest.param(
            "trigger: assigned\ncompletion:\n  attachments: {min: 3, max: 2}\n",
            "definitions/x.yaml:7: completion.attachments: min is greater than max",
            id="attachments-min-max",
        ),
        pytest.param(
            "trigger: assigned\nreminder: [P1D]\n",
            "definitions/x.yaml:6: reminder: unknown field 'reminder'; did you mean 'reminders'?",
            id="unknown-top-level-field",
        ),
        pytest.param(
            "trigger: assigned\nreminders: [P7D, P7D]\n",
            "definitions/x.yaml:6: reminders: the same reminder is listed twice",
            id="reminder-twice",
        ),
        pytest.param(
            "trigger: assigned\napproval: [parent, boss]\n",
            "definitions/x.yaml:6: approval: 'boss' is not one of parent, grandparent, issuer or a level "
            "(national, provincial, municipal, county, township, grassroots, sub)",
            id="approver",
        ),
        pytest.param(
            "trigger: assigned\nescalation:\n  - {after: P0D, to: parent}\n  - after: P30D\n",
            "definitions/x.yaml:8: escalation[1].to: required, but missing",
            id="escalation-missing-to",
        ),
        pytest.param(
            "trigger: assigned\napplies_to:\n  levels: [county, village]\n",
            "definitions/x.yaml:7: applies_to.levels[1]: 'village' is not one of 'national', 'provincial', "
            "'municipal', 'county', 'township', 'grassroots' or 'sub'",
            id="level",
        ),
        pytest.param(
            "trigger: assigned\napplies_to:\n  tags: [Non-Public]\n",
            "definitions/x.yaml:7: applies_to.tags: tag 'Non-Public' must be lower-case letters, digits or _",
            id="tag",
        ),
        pytest.param(
            "trigger: assigned\napplies_to:\n  where:\n    members: [1, 2]\n",
            "definitions/x.yaml:8: applies_to.where.members: expected text, a number, true/false or "
            'comparisons such as {">=": 100}; got a list',
            id="where-value",
        ),
    ],
)
def test_each_refusal_names_file_line_and_field(snippet: str, expected: str) -> None:
    assert only_problem(HEAD + snippet) == expected


def test_a_missing_field_points_at_the_mapping_that_should_hold_it() -> None:
    text = "# a comment first\nid: test-item\ntitle: t\ntitle_en: t\n"
    found = problems(text)
    assert found == [
        "definitions/x.yaml:2: trigger: required, but missing",
    ]


def test_fields_with_the_wrong_type_say_so_plainly() -> None:
    text = "id: Bad_Id\ntitle: 2026\ntitle_en: ''\nsource: s\ntrigger: assigned\n"
    assert problems(text) == [
        "definitions/x.yaml:1: id: 'Bad_Id' must be 3-64 lower-case letters, digits and dashes",
        "definitions/x.yaml:2: title: expected text, got 2026; put it in quotes",
        "definitions/x.yaml:3: title_en: must not be empty",
    ]


def test_all_problems_of_a_file_are_reported_in_line_order() -> None:
    text = HEAD + "trigger: {every: yearly}\ndue: {after: P1Q}\nreminders: [soon]\n"
    found = problems(text)
    assert [p.split(":")[1] for p in found] == ["5", "6", "7"]
    assert (
        found[1] == "definitions/x.yaml:6: due.after: 'P1Q' is not an ISO-8601 duration such as P30D or PT24H"
    )


def test_problem_fields_are_structured() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(HEAD + "trigger: assigned\ndue:\n  after: P1Q\n", "definitions/x.yaml")
    (problem,) = caught.value.problems
    assert (problem.where, problem.field) == ("definitions/x.yaml:7", "due.after")
    assert isinstance(caught.value, InvalidInput)  # the API answers it 422 (api/errors.py)


# --- refusals of the file itself -------------------------------------------------


def test_a_syntax_error_names_its_line() -> None:
    found = only_problem(HEAD + "trigger: [assigned\ndue: {after: P1D}\n")
    assert found.startswith("definitions/x.yaml:6: not valid YAML: ")


def test_a_tab_indent_is_explained() -> None:
    assert only_problem(HEAD + "completion:\n\tform: {}\n") == (
        "definitions/x.yaml:6: not valid YAML: a tab cannot indent YAML; use spaces"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "definitions/x.yaml:1: the file is empty; a definition is a mapping (id: ..., title: ...)"),
        (
            "# only a comment\n",
            "definitions/x.yaml:1: the file is empty; a definition is a mapping (id: ..., title: ...)",
        ),
        ("- a\n- b\n", "definitions/x.yaml:1: a definition file must be one mapping (id: ..., title: ...)"),
    ],
)
def test_a_file_that_is_not_one_mapping_is_refused(text: str, expected: str) -> None:
    assert only_problem(text) == expected


def test_two_documents_in_one_file_are_refused() -> None:
    found = only_problem(HEAD + "trigger: assigned\n---\n" + HEAD + "trigger: assigned\n")
    assert found.startswith("definitions/x.yaml:6: not valid YAML: ")


def test_a_duplicate_key_is_refused_with_both_lines() -> None:
    assert only_problem(HEAD + "trigger: assigned\ntitle: again\n") == (
        "definitions/x.yaml:6: title: duplicate key 'title' (first at line 2)"
    )


def test_a_duplicate_nested_key_is_refused() -> None:
    text = HEAD + "trigger: assigned\ncompletion:\n  form:\n    a: {type: date}\n    a: {type: text}\n"
    assert (
        only_problem(text) == "definitions/x.yaml:9: completion.form.a: duplicate key 'a' (first at line 8)"
    )


def test_a_merge_key_is_refused() -> None:
    text = HEAD + "base: &b {after: P0D}\ntrigger: assigned\nescalation:\n  - <<: *b\n    to: parent\n"
    assert only_problem(text) == (
        "definitions/x.yaml:8: escalation[0]: merge keys (<<) are not supported; write the fields out"
    )


@pytest.mark.parametrize(
    "tagged",
    [
        "trigger: !!python/object/apply:os.system ['echo pwned']\n",
        "trigger: !!python/object:engine.language.model.AssignedTrigger {}\n",
        "trigger: !!python/name:os.system\n",
        "trigger: !custom assigned\n",
        "trigger: assigned\ndescription: !!binary aGVsbG8=\n",
        "trigger: assigned\ndescription: !!timestamp 2026-06-30\n",
        "trigger: assigned\napplies_to: {tags: !!set {a, b}}\n",
    ],
)
def test_a_tag_that_would_construct_an_object_is_refused(tagged: str) -> None:
    found = only_problem(HEAD + tagged)
    assert "is not allowed; a definition is plain YAML" in found
    assert found.startswith("definitions/x.yaml:")


def test_standard_tags_on_plain_values_are_allowed() -> None:
    d = parse_definition(HEAD + "trigger: !!str assigned\ndescription: !!str 2026\n", "a.yaml").definition
    assert d.description == "2026"


def test_an_explicit_tag_that_does_not_fit_its_value_is_refused() -> None:
    assert only_problem(HEAD + "trigger: {every: year, times: !!int many}\n") == (
        "definitions/x.yaml:5: trigger.times: 'many' is not a valid int"
    )


def test_a_billion_laughs_file_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    found = only_problem("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1.0
    assert found == f"definitions/x.yaml:7: more than {MAX_ALIASES} aliases (*name) in one file"


def test_few_aliases_that_multiply_are_refused_too() -> None:
    # 48 aliases, each level three times the last: 3**16 values if expanded.
    lines = ["a0: &a0 [x, x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 17)]
    started = time.perf_counter()
    found = only_problem("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1.0
    assert "aliases expand the file to more than" in found


def test_an_alias_inside_itself_is_refused() -> None:
    assert only_problem(HEAD + "trigger: assigned\nreminders: &r [P1D, *r]\n") == (
        "definitions/x.yaml:6: reminders[1]: an alias refers to the list or mapping it is inside"
    )


def test_deep_nesting_is_refused() -> None:
    found = only_problem(HEAD + "trigger: assigned\ndescription: " + "[" * 2000 + "]" * 2000 + "\n")
    assert found.startswith("definitions/x.yaml:6: nested more than")


def test_a_huge_text_is_refused() -> None:
    text = HEAD + "trigger: assigned\ndescription: " + "长" * (MAX_FILE_BYTES // 3 + 1) + "\n"
    assert only_problem(text) == "definitions/x.yaml:1: the file is larger than 256 KiB"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(DefinitionError) as caught:
        load_paths([big])
    assert [str(p) for p in caught.value.problems] == [f"{big}:1: the file is larger than 256 KiB"]


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes((HEAD + "trigger: assigned\ndescription: 基层工会\n").encode("gbk"))
    with pytest.raises(DefinitionError) as caught:
        load_paths([gbk])
    (found,) = [str(p) for p in caught.value.problems]
    assert found.startswith(f"{gbk}:2: not UTF-8 text (byte 0x")
    assert found.endswith("save the file as UTF-8")


# --- loading many files --------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def item(def_id: str, extra: str = "trigger: assigned\n") -> str:
    return HEAD.replace("id: test-item", f"id: {def_id}") + extra


def test_a_directory_expands_to_its_yaml_files_in_order(tmp_path: Path) -> None:
    write(tmp_path, "b-item.yml", item("b-item"))
    write(tmp_path, "a-item.yaml", item("a-item"))
    write(tmp_path, "notes.txt", "not a definition")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c-item.yaml", item("c-item"))
    loaded = load_paths([tmp_path])
    assert [d.definition.id for d in loaded] == ["a-item", "b-item"]
    assert loaded[0].path == str(tmp_path / "a-item.yaml")


def test_files_and_directories_mix_and_a_file_given_twice_loads_once(tmp_path: Path) -> None:
    a = write(tmp_path, "a-item.yaml", item("a-item"))
    loaded = load_paths([a, tmp_path])
    assert [d.definition.id for d in loaded] == ["a-item"]


def test_the_problems_of_all_files_come_in_one_error(tmp_path: Path) -> None:
    write(tmp_path, "a-item.yaml", item("a-item", "trigger: assigned\ndue: {after: P1Q}\n"))
    write(tmp_path, "b-item.yaml", item("b-item", "trigger: {every: weekly}\n"))
    write(tmp_path, "c-item.yaml", item("c-item"))
    with pytest.raises(DefinitionError) as caught:
        load_paths([tmp_path])
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}/a-item.yaml:6: due.after: 'P1Q' is not an ISO-8601 duration such as P30D or PT24H",
        (
            f"{tmp_path}/b-item.yaml:5: trigger.every: 'weekly' is not one of "
            "'year', 'half_year', 'quarter', 'month' or 'week'"
        ),
    ]


def test_two_files_with_one_id_are_a_problem_naming_both(tmp_path: Path) -> None:
    write(tmp_path, "a-item.yaml", item("same-item"))
    write(tmp_path, "b-item.yaml", "# a comment\n" + item("same-item"))
    with pytest.raises(DefinitionError) as caught:
        load_paths([tmp_path])
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}/b-item.yaml:2: id: 'same-item' is also the id of {tmp_path}/a-item.yaml:1"
    ]


def test_a_missing_path_and_an_empty_directory_are_problems(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DefinitionError) as caught:
        load_paths([tmp_path / "nope.yaml", empty])
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}/nope.yaml: no such file or directory",
        f"{empty}: no definition files (*.yaml, *.yml) in this directory",
    ]


def test_parse_definition_bytes_matches_parse_definition() -> None:
    text = HEAD + 'trigger: {every: year}\ndue: {on: "06-30"}\n'
    assert parse_definition_bytes(text.encode("utf-8"), "a.yaml") == parse_definition(text, "a.yaml")


def test_a_recurring_trigger_keeps_its_times() -> None:
    d = parse_definition(HEAD + "trigger: {every: week, times: 2}\ndue: end_of_period\n", "a.yaml").definition
    assert d.trigger == EveryTrigger(every=Every.week, times=2)


def test_a_control_character_is_refused_with_its_file() -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition("id: x\x07y\n", "ctl.yaml")
    assert str(refused.value).startswith("ctl.yaml:1: not valid YAML")


# --- applies_to rules, optional titles and defaults -------------------------------------


def test_title_en_and_source_are_optional_and_the_english_title_falls_back() -> None:
    text = "id: own-item\ntitle: 本单位自定事项\ntrigger: assigned\ndue: {after: P10D}\n"
    loaded = parse_definition(text, "definitions/own.yaml").definition
    assert loaded.title_en == "本单位自定事项"
    assert loaded.source is None


def test_the_rich_applies_to_rules_load() -> None:
    text = HEAD + (
        "trigger: assigned\ndue: {after: P10D}\napplies_to:\n"
        "  levels: [grassroots]\n"
        "  tags_any: [state_owned, collective]\n"
        "  tags_none: [association]\n"
        "  where:\n"
        '    members: {">=": 100, "<": 1000}\n'
        "    ownership: {in: [state_owned, collective]}\n"
        "    legal_form: company\n"
        "  under: {levels: [county], tags: [industrial_park]}\n"
    )
    rule = parse_definition(text, "x.yaml").definition.applies_to
    assert rule.tags_any == ["state_owned", "collective"] and rule.tags_none == ["association"]
    assert rule.where == {
        "members": {">=": 100, "<": 1000},
        "ownership": {"in": ["state_owned", "collective"]},
        "legal_form": "company",
    }
    assert rule.under is not None and [lv.value for lv in rule.under.levels] == ["county"]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        pytest.param(
            "applies_to:\n  tags_any: [State]\n",
            "definitions/x.yaml:8: applies_to.tags_any: tag 'State' must be lower-case letters, digits or _",
            id="tags-any-shape",
        ),
        pytest.param(
            "applies_to:\n  tags: [a]\n  tags_none: [a]\n",
            "definitions/x.yaml:9: applies_to.tags_none: a is also required, so no unit could match",
            id="tags-none-contradicts",
        ),
        pytest.param(
            "applies_to:\n  where:\n    members: {'>=': many}\n",
            "definitions/x.yaml:9: applies_to.where.members: '>=' compares numbers; got 'many'",
            id="ordering-needs-a-number",
        ),
        pytest.param(
            "applies_to:\n  where:\n    members: {'=>': 3}\n",
            "definitions/x.yaml:9: applies_to.where.members: unknown comparison '=>'; one of =, !=, <, <=, >, >=, in",
            id="unknown-operator",
        ),
        pytest.param(
            "applies_to:\n  where:\n    ownership: {in: []}\n",
            "definitions/x.yaml:9: applies_to.where.ownership: in: expects a non-empty list such as "
            "[state_owned, collective]",
            id="empty-in",
        ),
        pytest.param(
            "applies_to:\n  under: {}\n",
            "definitions/x.yaml:8: applies_to.under: names no level or tag; say which units above count",
            id="empty-under",
        ),
        pytest.param(
            "applies_to:\n  under: {level: [county]}\n",
            "definitions/x.yaml:8: applies_to.under.level: unknown field 'level'; did you mean 'levels'?",
            id="under-typo",
        ),
        pytest.param(
            "defaults: [due, reminders]\n",
            "definitions/x.yaml:7: defaults[1]: 'reminders' is not written in this file",
            id="default-not-written",
        ),
        pytest.param(
            "defaults: [Due]\n",
            "definitions/x.yaml:7: defaults: 'Due' must be a dotted field name such as due or completion.target",
            id="default-shape",
        ),
    ],
)
def test_each_new_rule_refuses_with_file_line_and_field(snippet: str, expected: str) -> None:
    assert only_problem(HEAD + "trigger: assigned\ndue: {after: P10D}\n" + snippet) == expected


def test_defaults_name_written_fields_down_to_list_items() -> None:
    text = HEAD + (
        "trigger: assigned\ndue: {after: P10D}\nreminders: [P3D]\n"
        "escalation:\n  - {after: P7D, to: parent}\n"
        "defaults: [due, reminders, escalation.0.after]\n"
    )
    assert parse_definition(text, "x.yaml").definition.defaults == ["due", "reminders", "escalation.0.after"]
    assert "escalation.1.after" in only_problem(text.replace("escalation.0.after", "escalation.1.after"))


def test_the_rules_are_part_of_the_meaning() -> None:
    base = HEAD + "trigger: assigned\ndue: {after: P10D}\napplies_to:\n  levels: [grassroots]\n"
    plain = parse_definition(base, "x.yaml").digest
    assert parse_definition(base + "  tags_none: [association]\n", "x.yaml").digest != plain
    assert parse_definition(base + "defaults: [due]\n", "x.yaml").digest != plain
