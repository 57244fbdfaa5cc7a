"""The rules, cell by cell: role × position in the tree × action, written out by hand.

The task is T1's; T1 lies under the county K1, under the city C. The assignment was issued by K1
and its approval step names K1. Each actor stands somewhere relative to T1. Every cell says
what the rule answers: O allowed, F forbidden (403), N not found (404: outside the subtree).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from duban.engine.access import permissions
from duban.engine.access.actors import OPERATOR, Actor
from duban.engine.errors import Forbidden, NotFound
from duban.engine.store.paths import segment


def path(*ids: int) -> str:
    return "".join(segment(i) for i in ids)


C, K1, T1, G1, K2, T2, C2 = 1, 2, 3, 4, 5, 6, 7
UNITS = {
    "own": (T1, path(C, K1, T1)),
    "parent": (K1, path(C, K1)),
    "grandparent": (C, path(C)),
    "child": (G1, path(C, K1, T1, G1)),
    "cousin": (T2, path(C, K2, T2)),
    "other_city": (C2, path(C2)),
}
POSITIONS = tuple(UNITS)
T1_PATH, K1_PATH = UNITS["own"][1], UNITS["parent"][1]
TASK = 99

ACTIONS: dict[str, Callable[[Actor], None]] = {
    "assign": lambda a: permissions.can_assign(a, T1_PATH, "T1"),
    "submit": lambda a: permissions.can_act_on_own_task(a, T1, T1_PATH, TASK),
    "approve": lambda a: permissions.can_approve(a, T1_PATH, TASK, K1, "t1-staff"),
    "extend": lambda a: permissions.can_supervise(a, T1, T1_PATH, TASK, "extend a deadline"),
    "waive": lambda a: permissions.can_waive(a, T1_PATH, TASK, K1_PATH),
    "split_target": lambda a: permissions.can_split_target(a, T1_PATH, "T1"),
    "withdraw": lambda a: permissions.can_withdraw(a, K1_PATH, 7),
    "post_event": lambda a: permissions.can_post_event(a, T1_PATH, "T1"),
    "manage_account": lambda a: permissions.can_manage_account(a, T1_PATH, "t1-staff"),
    "import_units": permissions.can_import_units,
    "upload_definitions": permissions.can_upload_definitions,
}

# Per action and role: one letter per position, in the order own, parent, grandparent, child, cousin, other_city.
EXPECTED = {
    "assign": {"admin": "OOONNN", "staff": "FFFNNN", "viewer": "FFFNNN"},
    "submit": {"admin": "OFFNNN", "staff": "OFFNNN", "viewer": "FFFNNN"},
    "approve": {"admin": "FOFNNN", "staff": "FFFNNN", "viewer": "FFFNNN"},
    "extend": {"admin": "FOONNN", "staff": "FFFNNN", "viewer": "FFFNNN"},
    "waive": {"admin": "FOONNN", "staff": "FFFNNN", "viewer": "FFFNNN"},
    "split_target": {"admin": "OOONNN", "staff": "FFFNNN", "viewer": "FFFNNN"},
    "withdraw": {"admin": "NOONNN", "staff": "NFFNNN", "viewer": "NFFNNN"},
    "post_event": {"admin": "OOONNN", "staff": "OOONNN", "viewer": "FFFNNN"},
    "manage_account": {"admin": "OOONNN", "staff": "FFFNNN", "viewer": "FFFNNN"},
    "import_units": {"admin": "OOOOOO", "staff": "FFFFFF", "viewer": "FFFFFF"},
    "upload_definitions": {"admin": "OOOOOO", "staff": "FFFFFF", "viewer": "FFFFFF"},
}

CELLS = [
    (action, role, pos, EXPECTED[action][role][i])
    for action in ACTIONS
    for role in ("admin", "staff", "viewer")
    for i, pos in enumerate(POSITIONS)
]


def actor(role: str, pos: str) -> Actor:
    unit_id, unit_path = UNITS[pos]
    return Actor(
        name=f"{pos}-{role}", role=role, unit_id=unit_id, unit_path=unit_path, unit_code=pos, account_id=1
    )


def outcome(action: str, who: Actor) -> str:
    try:
        ACTIONS[action](who)
    except NotFound:  # NotInScope included: outside the subtree reads as missing
        return "N"
    except Forbidden:
        return "F"
    return "O"


def test_every_action_has_its_row() -> None:
    assert set(EXPECTED) == set(ACTIONS)
    assert all(len(cells) == len(POSITIONS) for row in EXPECTED.values() for cells in row.values())


@pytest.mark.parametrize(("action", "role", "pos", "want"), CELLS)
def test_cell(action: str, role: str, pos: str, want: str) -> None:
    assert outcome(action, actor(role, pos)) == want


@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_operator_may_do_everything(action: str) -> None:
    assert outcome(action, OPERATOR) == "O"


def test_nobody_approves_their_own_submission() -> None:
    submitter = actor("admin", "parent")
    with pytest.raises(Forbidden):
        permissions.can_approve(submitter, T1_PATH, TASK, K1, submitter.name)
    with pytest.raises(Forbidden):
        permissions.can_approve(OPERATOR, T1_PATH, TASK, K1, OPERATOR.name)


def test_nobody_disables_their_own_account() -> None:
    admin = actor("admin", "own")
    with pytest.raises(Forbidden):
        permissions.can_manage_account(admin, T1_PATH, admin.name)


def test_seeing_follows_the_path_prefix() -> None:
    seen = {pos: permissions.sees(actor("viewer", pos), T1_PATH) for pos in POSITIONS}
    assert seen == {
        "own": True,
        "parent": True,
        "grandparent": True,
        "child": False,
        "cousin": False,
        "other_city": False,
    }
