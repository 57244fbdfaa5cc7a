"""Engine refusals in the reader's words: each problem by its field and message, each error by its kind.

The engine names what and where in English for the command line and the API; the pages say the
same in Chinese beside the field it concerns. A message not known here is shown by its kind only
(never an English sentence under a Chinese heading).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from duban.engine.errors import (
    Conflict,
    DubanError,
    Forbidden,
    InvalidInput,
    NotFound,
    Throttled,
    Unauthenticated,
)
from duban.engine.glossary import label

# (pattern of the engine's message, Chinese, English); groups fill {0}, {1}, ...
_MESSAGES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(p), zh, en)
    for p, zh, en in [
        (r"^required$", "必填", "required"),
        (r"^no such field", "表单中没有此项", "not a field of this form"),
        (r"is not a whole number", "请填写整数", "enter a whole number"),
        (r"is not a number", "请填写数字", "enter a number"),
        (r"^at least ([\d.]+) characters", "至少 {0} 个字", "at least {0} characters"),
        (r"^at most ([\d.]+) characters", "最多 {0} 个字", "at most {0} characters"),
        (r"^at least ([\d.]+)$", "不能小于 {0}", "at least {0}"),
        (r"^at most ([\d.]+)$", "不能大于 {0}", "at most {0}"),
        (r"is not true or false", "请选择是或否", "choose yes or no"),
        (r"is not one of", "请从选项中选择", "choose one of the options"),
        (r"is not a date", "请填写日期", "enter a date"),
        (
            r"outside the task's period \S+ \((\S+) to (\S+)\)",
            "日期须在本期（{0} 至 {1}）之内",
            "the date must lie within the period ({0} to {1})",
        ),
        (
            r"at least (\d+) file\(s\) needed, (\d+) given",
            "至少需要 {0} 个附件，现有 {1} 个",
            "{0} file(s) needed, {1} given",
        ),
        (
            r"at most (\d+) file\(s\), (\d+) given",
            "最多 {0} 个附件，现有 {1} 个",
            "at most {0} file(s), {1} given",
        ),
        (r"unknown label", "附件名称不符", "not one of the attachments asked for"),
        (r"takes no files", "本任务不收附件", "this task takes no files"),
        (r"larger than (\d+) MB", "文件超过 {0} MB", "the file is larger than {0} MB"),
        (r"the file is empty", "文件是空的", "the file is empty"),
        (
            r"is not allowed; send",
            "文件类型不支持，请上传 PDF、图片或 Office 文件",
            "this kind of file is not accepted; send PDF, images or Office files",
        ),
        (r"report the increment", "请填写本次完成的数量（大于 0）", "enter the amount achieved (above 0)"),
        (r"each submission counts one", "每次提交计一次", "each submission counts one"),
        (r"has no numeric target", "此任务没有数量目标", "this task has no numeric target"),
        (r"needs a reason", "请填写原因", "give a reason"),
        (r"is already past", "日期已过", "the date has passed"),
        (r"has no deadline", "此任务需要指定截止日期", "this item needs a due date"),
        (r"^limit ", "分页参数有误", "bad page"),
        # Forbidden and Conflict messages
        (
            r"only the task's own unit submits",
            "只有任务所属单位可以提交",
            "only the task's own unit submits it",
        ),
        (r"a viewer cannot submit", "查看账号不能提交", "a viewer cannot submit"),
        (r"nobody approves their own", "不能审核自己提交的材料", "nobody approves their own submission"),
        (
            r"approval step belongs to another unit",
            "此步审核应由其他单位办理",
            "another unit approves this step",
        ),
        (
            r"cannot (\w+) its own task",
            "不能对本单位的任务进行此操作，应由上级办理",
            "the level above does this",
        ),
        (r"only the issuer waives", "只有下达单位可以免除", "only the issuer waives a task"),
        (r"only an admin may", "只有管理员可以进行此操作", "only an admin may do this"),
        (
            r"cannot (\w+) task \d+: it is (\w+)",
            "任务当前为「{1}」，不能进行此操作",
            "the task is {1}; this cannot be done now",
        ),
        (r"security token", "页面已过期，请刷新后重试", "the page is stale; reload it and try again"),
        (r"cross-site", "请从本系统页面提交", "submit from duban's own pages"),
        (r"already assigned", "已下达过", "already assigned"),
        (r"wrong account name or password", "账号或密码错误", "wrong account name or password"),
    ]
]
_STATE_WORDS = {"open", "submitted", "done", "waived", "cancelled"}

_KIND = {
    NotFound: ("未找到，或不在您的管辖范围内", "Not found, or outside your units"),
    Forbidden: ("您无权进行此操作", "You may not do this"),
    Conflict: ("当前状态下不能进行此操作", "This cannot be done now"),
    Unauthenticated: ("请先登录", "Please sign in"),
    Throttled: ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    InvalidInput: ("填写有误，请按提示修改", "Please correct what is marked"),
}


@dataclass(frozen=True)
class Refusal:
    """A refusal ready for a page: a headline, and the problems by the field they belong to."""

    headline: str
    fields: dict[str, str]  # form field (or "files", "reason", "due", ...) -> message
    others: list[str]  # problems not beside any field


def say(message: str, lang: str) -> str | None:
    """One engine message in the reader's words; None when it is not known."""
    for pattern, zh, en in _MESSAGES:
        m = pattern.search(message)
        if m:
            words = [label(f"state.{g}", lang) if g in _STATE_WORDS else g for g in m.groups()]
            return (zh if lang == "zh" else en).format(*words)
    return None


def refusal(exc: DubanError, lang: str, field_labels: dict[str, str] | None = None) -> Refusal:
    """The refusal of `exc`; `field_labels` names the form's fields for the problems listed apart."""
    index = 0 if lang == "zh" else 1
    headline = next(
        (words[index] for kind, words in _KIND.items() if isinstance(exc, kind)), _KIND[InvalidInput][index]
    )
    fields: dict[str, str] = {}
    others: list[str] = []
    if isinstance(exc, InvalidInput):
        for p in exc.problems:
            text = say(p.message, lang) or headline
            key = _field_key(p.field)
            if p.where.startswith("file "):
                text = f"{p.where[5:]}：{text}"
            fields[key] = f"{fields[key]}；{text}" if key in fields else text
        labels = field_labels or {}
        for key, text in fields.items():
            if key not in labels:
                others.append(text)
    else:
        specific = say(exc.message, lang)
        if specific and specific != headline:
            others.append(specific)
    return Refusal(headline, fields, others)


def _field_key(field: str) -> str:
    if field.startswith("form."):
        return field[5:]
    return {"attachments": "files", "size": "files", "type": "files"}.get(field, field)


def as_context(
    exc: DubanError | None, lang: str, field_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """What a template needs: `refused` (headline and listed problems) and `field_errors`."""
    if exc is None:
        return {"refused": None, "field_errors": {}}
    r = refusal(exc, lang, field_labels)
    return {"refused": r, "field_errors": r.fields}
