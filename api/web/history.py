"""A task's history in words: when, who (their union and role), what (the glossary's verb), and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from duban.api.web.common import when
from duban.engine.glossary import has, label

_ROLES = {"admin": ("管理员", "admin"), "staff": ("经办人", "staff"), "viewer": ("查看人", "viewer")}
# Events that are the system's bookkeeping, not something a reader of the task needs.
_QUIET = {"task.recomputed", "task.reminder_skipped"}


def who(name: str, people: dict[str, dict[str, str]], lang: str) -> str:
    """An account as its union and role (华达电子有限公司工会 经办人); the system and operator by name."""
    if name == "system":
        return label("actor.system", lang)
    if name == "operator":
        return "系统管理员" if lang == "zh" else "operator"
    person = people.get(name)
    if person is None:
        return name
    role = _ROLES.get(person["role"], (person["role"], person["role"]))[0 if lang == "zh" else 1]
    return f"{person['unit_name']} {role}"


def describe(event: dict[str, Any], people: dict[str, dict[str, str]], lang: str) -> dict[str, Any]:
    """One audit event as a line of the history."""
    action = event["action"]
    payload = event.get("payload") or {}
    key = f"action.{action}"
    detail = ""
    reason = str(payload.get("reason") or "").strip()
    if action == "task.rejected":
        detail = f"{label('reason.rejected', lang)}：{reason}"
    elif action == "task.urged" and reason:
        detail = f"{label('reason.urge', lang)}：{reason}"
    elif action == "task.waived":
        detail = f"{label('reason.waived', lang)}：{reason}"
    elif action == "task.extended":
        to = payload.get("to")
        new = when(datetime.fromisoformat(to), lang) if to else ""
        detail = (f"新的截止日期：{new}" if lang == "zh" else f"new due date: {new}") + (
            f"；{label('reason.extended', lang)}：{reason}" if reason else ""
        )
    elif action == "task.escalated":
        level = payload.get("level") or payload.get("escalation_level")
        if level:
            detail = f"第 {level} 级督办" if lang == "zh" else f"level {level}"
    elif action in ("task.files_attached", "task.file_removed"):
        files = payload.get("files") or [payload.get("file") or {}]
        detail = "、".join(str(f.get("label") or f.get("name") or "") for f in files if f)
    return {
        "at": when(event["at"], lang, clock=True),
        "who": who(event["actor"], people, lang),
        "what": label(key, lang) if has(key) else action.rsplit(".", 1)[-1],
        "detail": detail,
        "quiet": action in _QUIET,
    }
