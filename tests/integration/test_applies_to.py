"""applies_to on both databases: any-of and none-of tags, attr comparisons, and `under:` an ancestor."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from duban.engine.access.actors import OPERATOR
from duban.engine.language.loader import parse_definition
from duban.engine.org import tree
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Task, Unit
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

TREE = """\
code,name,parent_code,level,tags,attrs
C,市总工会,,municipal,,
K1,一县总工会,C,county,,
T1,园区工会,K1,township,industrial_park,
G1,国企一,T1,grassroots,enterprise;state_owned,"{""members"": 150, ""ownership"": ""state_owned""}"
G2,集体一,T1,grassroots,enterprise;collective,"{""members"": 80, ""ownership"": ""collective""}"
G3,民企一,T1,grassroots,enterprise;non_public,"{""members"": 300, ""ownership"": ""private""}"
G4,协会一,T1,grassroots,association,"{""members"": ""many""}"
T2,街道工会,K1,township,,
G5,国企二,T2,grassroots,enterprise;state_owned,"{""members"": 100}"
G6,学校,T2,grassroots,institution,"{""members"": 100.5, ""listed"": true}"
K2,二县总工会,C,county,,
G7,国企三,K2,grassroots,enterprise;state_owned,"{""members"": 500}"
S1,球类协会,G7,sub,association,
S2,车间分工会,G7,sub,,
"""


@pytest.fixture
def world(db: Engine, replay, tmp_path: Path) -> Engine:  # type: ignore[no-untyped-def]
    csv = tmp_path / "tree.csv"
    csv.write_text(TREE, encoding="utf-8")
    with write_session(db) as s:
        import_units(s, replay.rt.now(), OPERATOR, csv)
    return db


def _defn(applies_to: str) -> str:
    return f"id: rule-test\ntitle: 规则\ntrigger: assigned\ndue: {{after: P30D}}\napplies_to:\n{applies_to}"


def matched(db: Engine, applies_to: str, scope: str = "C") -> set[str]:
    defn = parse_definition(_defn(applies_to), "rule.yaml").definition
    with read_session(db) as s:
        path = tree.get_unit(s, scope).path
        return set(s.scalars(select(Unit.code).where(fanout.matching_units(defn, path))))


CASES = [
    ("  tags_any: [state_owned, collective]\n", {"G1", "G2", "G5", "G7"}),
    ("  levels: [grassroots, sub]\n  tags_none: [association]\n", {"G1", "G2", "G3", "G5", "G6", "G7", "S2"}),
    ("  tags: [enterprise]\n  tags_none: [non_public]\n", {"G1", "G2", "G5", "G7"}),
    ('  where:\n    members: {">=": 100}\n', {"G1", "G3", "G5", "G6", "G7"}),
    ('  where:\n    members: {">": 100, "<": 400}\n', {"G1", "G3", "G6"}),
    ('  where:\n    members: {"<=": 80}\n', {"G2"}),
    ('  where:\n    members: {"!=": 100}\n', {"G1", "G2", "G3", "G6", "G7"}),
    ("  where:\n    members: 100\n", {"G5"}),
    ('  where:\n    members: {"=": many}\n', {"G4"}),
    ("  where:\n    ownership: {in: [state_owned, collective]}\n", {"G1", "G2"}),
    ("  where:\n    members: {in: [80, 500, many]}\n", {"G2", "G4", "G7"}),
    ("  where:\n    listed: true\n", {"G6"}),
    ("  levels: [grassroots]\n  under: {tags: [industrial_park]}\n", {"G1", "G2", "G3", "G4"}),
    ("  levels: [sub]\n  under: {levels: [grassroots], tags_any: [state_owned]}\n", {"S1", "S2"}),
    ("  under: {levels: [township], tags_none: [industrial_park]}\n", {"G5", "G6"}),
    (
        '  levels: [grassroots]\n  tags_any: [state_owned, collective]\n  where:\n    members: {">=": 100}\n'
        "  under: {levels: [county]}\n",
        {"G1", "G5", "G7"},
    ),
]


@pytest.mark.parametrize(("applies_to", "expected"), CASES)
def test_rules_select_exactly_their_units(world: Engine, applies_to: str, expected: set[str]) -> None:
    assert matched(world, applies_to) == expected


def test_under_counts_only_ancestors_inside_the_scope(world: Engine) -> None:
    rule = "  levels: [grassroots]\n  under: {levels: [county]}\n"
    assert matched(world, rule, "K1") == {"G1", "G2", "G3", "G4", "G5", "G6"}
    # K1 is above the scope T1, so it does not count: the plan addresses units under a
    # county *within* what was assigned.
    assert matched(world, rule, "T1") == set()
    # The unit itself is not its own ancestor.
    assert matched(world, "  under: {levels: [sub]}\n") == set()


def test_a_text_attr_does_not_break_a_numeric_comparison(world: Engine) -> None:
    # G4's members is "many": on PostgreSQL a bare cast would fail the whole statement.
    assert "G4" not in matched(world, '  where:\n    members: {">": 0}\n')


def test_the_fan_out_creates_tasks_for_exactly_the_matched_units(world: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    text = _defn(
        "  levels: [grassroots, sub]\n  tags_any: [state_owned, collective]\n  tags_none: [association]\n"
        '  where:\n    members: {">=": 100}\n'
    )
    with write_session(world) as s:
        store_definitions(s, replay.rt.now(), OPERATOR, [parse_definition(text, "rule.yaml")])
        result = fanout.assign_definition(s, replay.rt, OPERATOR, "rule-test", "C")
    with read_session(world) as s:
        codes = set(
            s.scalars(
                select(Unit.code)
                .join(Task, Task.unit_id == Unit.id)
                .where(Task.assignment_id == result.assignment_id)
            )
        )
    assert result.created == 3
    assert codes == {"G1", "G5", "G7"}
