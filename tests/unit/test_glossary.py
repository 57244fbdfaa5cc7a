"""Every name duban shows has words in both languages, and the same thing has the same words everywhere."""

from __future__ import annotations

import re
from pathlib import Path

from duban.engine.channels.render import KIND_ORDER, kind_label
from duban.engine.glossary import LABELS, label
from duban.engine.language.model import Level
from duban.engine.store.models import TaskState

ENGINE = Path(__file__).parents[2] / "engine"


def test_every_state_and_level_has_both_languages() -> None:
    for key in [f"state.{s}" for s in TaskState.__members__] + [f"level.{lv.value}" for lv in Level]:
        zh, en = LABELS[key]
        assert zh and en and zh != en, key


def test_every_audit_action_written_by_the_engine_has_a_label() -> None:
    action = re.compile(
        r'"((?:task|assignment|definition|target|event|unit|account|outbox|period|scheme|assessment)\.[a-z_]+)"'
    )
    written = set()
    for path in ENGINE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "audit" in text:
            written.update(m for m in action.findall(text) if not m.endswith((".id", ".path")))
    written.update(f"task.{a}" for a in ("approved", "rejected", "waived", "extended", "urged", "submitted"))
    written.update(f"score.{kind}" for kind in ("quality", "bonus"))  # written as f"score.{kind}"
    assert sorted(k for k in written if f"action.{k}" not in LABELS) == []


def test_waived_reads_the_same_in_the_ui_and_in_notices() -> None:
    assert label("state.waived") == label("kind.waived") == kind_label("waived") == "已免除"
    assert label("state.waived", "en") == "Waived"
    assert all(not kind_label(k).startswith("通知·") for k in KIND_ORDER)


def test_an_unknown_key_shows_its_last_part_not_an_error() -> None:
    assert label("kind.something_new") == "something_new"
