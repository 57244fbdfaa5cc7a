"""The web UI's words: Chinese first, English on request (?lang=en, remembered in a cookie)."""

from __future__ import annotations

from fastapi import Request

from duban.engine.glossary import label
from duban.engine.store.models import TaskState

STATES = frozenset(TaskState.__members__)

LANGS = ("zh", "en")
WORDS: dict[str, tuple[str, str]] = {
    "app": ("督办", "duban"),
    "signin": ("登录", "Sign in"),
    "signout": ("退出", "Sign out"),
    "account": ("账号", "Account"),
    "password": ("密码", "Password"),
    "wrong_login": ("账号或密码错误", "Wrong account name or password"),
    "todo": ("待办", "To-do"),
    "assign": ("布置任务", "Assign"),
    "supervision": ("督办清单", "Supervision"),
    "dashboard": ("进度总览", "Dashboard"),
    "task": ("任务", "Task"),
    "unit": ("单位", "Unit"),
    "due": ("截止", "Due"),
    "state": ("状态", "State"),
    "overdue": ("已逾期", "Overdue"),
    "due_soon": ("即将到期", "Due soon"),
    "on_time": ("未到期", "On time"),
    "nothing": ("暂无待办任务", "Nothing to do"),
    "submit": ("提交", "Submit"),
    "files": ("附件", "Files"),
    "audit": ("办理记录", "History"),
    "form": ("填报", "Form"),
    "refused": ("未能提交", "Not accepted"),
    "definition": ("任务定义", "Definition"),
    "scope": ("下达范围（单位代码）", "Scope (unit code)"),
    "due_date": ("截止日期（可选）", "Due date (optional)"),
    "preview": ("预览", "Preview"),
    "create": ("确认下达", "Assign now"),
    "will_create": ("将创建任务数", "Tasks to be created"),
    "created": ("已下达，创建任务", "Assigned; tasks created"),
    "children": ("下级单位", "Child units"),
    "total": ("合计", "Total"),
    "progress": ("完成率", "Done"),
    "escalated": ("已升级", "Escalated"),
    "period": ("周期", "Period"),
    "export": ("导出 Excel", "Export XLSX"),
    "since": ("督办起始", "Since"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "required": ("必填", "required"),
    "due_moved_from": (
        "截止日遇法定休假日，依法顺延至下一个工作日；原定",
        "The deadline fell on a rest day and moves to the next working day; it was",
    ),
    "missed_due": ("布置时原定日期已过：", "The fixed date had already passed at assignment:"),
    "late_grace": ("截止日期为布置后的宽限期末", "the deadline is the end of a grace period from today"),
    "late_skip": ("本期不再下达，改为下达下一周期", "the next period is assigned instead"),
    "calendar_provisional": (
        "该年放假安排尚未公布，日期按法定节日推算，为暂定",
        "The year's holiday schedule is not published yet: the date is provisional",
    ),
}


def lang_of(request: Request) -> str:
    """The language asked for in the query, else the cookie, else Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return asked if asked in LANGS else "zh"


def translator(lang: str):  # type: ignore[no-untyped-def]
    """t(key) in the language: the page's own words, else the glossary's (t("state.open"), t(task.state))."""
    index = LANGS.index(lang)

    def t(key: str) -> str:
        if key in WORDS:
            return WORDS[key][index]
        if key in STATES:
            return label(f"state.{key}", lang)
        return label(key, lang)

    return t
