"""Relative names in approval chains and escalation steps: the one rule both the lifecycle and the lists use."""

from __future__ import annotations

import pytest

from duban.engine.org.routing import pick, step_approver

# A grassroots union (5) under a township (4), a county (3) and a city (2), root first; the issuer is 3.
ABOVE = [2, 3, 4]
LEVELS = {2: "municipal", 3: "county", 4: "township"}


@pytest.mark.parametrize(
    ("to", "above", "want"),
    [
        ("parent", ABOVE, 4),
        ("grandparent", ABOVE, 3),
        ("issuer", ABOVE, 3),
        ("county", ABOVE, 3),
        ("municipal", ABOVE, 2),
        ("provincial", ABOVE, None),  # no such level above
        ("parent", [], None),  # a root has no parent
        ("grandparent", [2], None),
    ],
)
def test_a_name_points_at_one_unit_or_none(to: str, above: list[int], want: int | None) -> None:
    assert pick(to, above, 3, LEVELS) == want


@pytest.mark.parametrize(
    ("chain", "step", "want"),
    [
        (["parent", "county"], 0, (4, 0)),
        (["parent", "county"], 1, (3, 1)),
        (["provincial", "county"], 0, (3, 1)),  # a step naming no unit is skipped, and the step moves on
        (["provincial"], 0, (None, 1)),  # nobody left: approved by the chain's end
        (["parent"], 1, (None, 1)),
    ],
)
def test_the_approver_of_a_step_skips_steps_that_name_no_unit(
    chain: list[str], step: int, want: tuple[int | None, int]
) -> None:
    assert step_approver(chain, step, ABOVE, 3, LEVELS) == want
