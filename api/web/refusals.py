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
        (
            r"webhook host (\S+) (?:is|resolves to \S+,) a link-local or cloud metadata address",
            "推送地址 {0} 是链路本地地址或云服务器元数据地址，系统从不向这类地址推送",
            "webhook host {0} is a link-local or cloud metadata address; webhooks never post there",
        ),
        (
            r"webhook host (\S+) is not among the hosts",
            "推送地址 {0} 不在本系统允许的推送主机之列（DUBAN_WEBHOOK_HOSTS）",
            "webhook host {0} is not among the hosts this deployment allows (DUBAN_WEBHOOK_HOSTS)",
        ),
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
        (
            r"is set at assignment",
            "计划未定日期（择期），请填写日期",
            "the plan leaves the date to the assigning union: give one",
        ),
        (r"^limit ", "分页参数有误", "bad page"),
        (r"is not a person of", "该单位没有这名人员", "not a person of this union"),
        (r"^required: the id of the person", "请选择涉及人员", "choose the person"),
        (r"is more than a day ahead", "发生时间不能晚于明天", "it cannot be more than a day ahead"),
        (r"is not a date and time", "请填写日期和时间", "enter a date and time"),
        (
            r"contains the control character",
            "含有不可见的控制字符（多为复制粘贴带入），请删除后重试",
            "contains an invisible control character (often pasted in); remove it",
        ),
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
        # 考核 and 台账 (engine/assess)
        (r"is closed already", "本考核已关闭", "the assessment is closed already"),
        (
            r"assessment of \S+ under \S+ is not closed",
            "本考核未关闭，无需重新开启",
            "the assessment is not closed",
        ),
        (
            r"is closed; reopen it first",
            "考核已关闭，请先重新开启",
            "the assessment is closed; reopen it first",
        ),
        (r"say why the assessment is reopened", "请填写重新开启的原因", "say why it is reopened"),
        (r"say what the bonus is for", "请填写加分理由", "say what the bonus is for"),
        (r"no bonus item", "没有这个加分项", "no such bonus item"),
        (
            r"^(.+): at most ([\d.]+) points in all, ([\d.]+) given already",
            "{0}：累计最多 {1} 分，已加 {2} 分",
            "{0}: at most {1} points in all, {2} given already",
        ),
        (
            r"is not assessed by this union",
            "该单位不在本考核范围内",
            "the unit is not assessed by this union",
        ),
        (r"is not assessed under", "该单位在本考核中没有计分任务", "the unit has no scored work here"),
        (
            r"only the assessing union or a union above it",
            "只有考核单位或其上级可以调整考核",
            "only the assessing union or one above it may change it",
        ),
        (r"scoring scheme \S+ not found", "没有这个考核细则", "no such scoring scheme"),
        (r"^definition \S+ not found", "没有这个任务事项", "no such item"),
        (r"^unit \S+ not found", "没有这个单位", "no such unit"),
        (
            r"is not a period label",
            "周期格式有误，请填写如 2026、2026-H1、2026-Q1、2026-03",
            "write the period as 2026, 2026-H1, 2026-Q1 or 2026-03",
        ),
        (r"a score from 0 to ([\d.]+)", "质量评分应在 0 至 {0} 分之间", "a score from 0 to {0}"),
        (
            r"rates the quality of this item",
            "本年度考核细则不对此事项评分",
            "no scheme of the year rates this item",
        ),
        (r"quality is scored on approval", "任务尚未审核通过，质量评分在审核通过时给出", "score on approval"),
        (r"only the approver of task", "只有审核通过的人可以评分", "only the approver scores the quality"),
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


def refusal(
    exc: DubanError,
    lang: str,
    field_labels: dict[str, str] | None = None,
    places: dict[str, str] | None = None,
) -> Refusal:
    """The refusal of `exc`; `field_labels` names the form's fields for the problems listed apart,
    `places` names in words where a problem is (a plan's item by its title, not its id)."""
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
            elif places and p.where in places:
                text = f"{places[p.where]}：{text}"
                key = p.where
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
    exc: DubanError | None,
    lang: str,
    field_labels: dict[str, str] | None = None,
    places: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What a template needs: `refused` (headline and listed problems) and `field_errors`."""
    if exc is None:
        return {"refused": None, "field_errors": {}}
    r = refusal(exc, lang, field_labels, places)
    return {"refused": r, "field_errors": r.fields}
