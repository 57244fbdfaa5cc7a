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
    "home": ("工作台", "Workbench"),
    "home_hint": ("点击数字查看对应任务清单。", "Click a number to see its list."),
    "most_urgent": ("本单位最紧急的待办", "My unit's most urgent work"),
    "card_todo": ("待办任务", "To do"),
    "card_approve": ("待我审核", "Awaiting my approval"),
    "card_late_below": ("下级逾期", "Overdue below me"),
    "card_due_week": ("本周到期", "Due this week"),
    "card_unread": ("未读通知", "Unread notices"),
    "todo": ("待办", "To do"),
    "approve_list": ("待审核", "To approve"),
    "supervision": ("督办清单", "Supervision"),
    "all_tasks": ("全部任务", "All tasks"),
    "dashboard": ("进度总览", "Dashboard"),
    "report": ("完成情况", "Progress"),
    "assign": ("布置任务", "Assign"),
    "inbox": ("通知", "Inbox"),
    "view_todo": ("待办任务", "To do"),
    "view_approve": ("待我审核", "Awaiting my approval"),
    "view_supervise": ("督办清单（下级逾期）", "Supervision: overdue below me"),
    "view_week": ("本周到期", "Due this week"),
    "view_all": ("任务清单", "Tasks"),
    "n_tasks": ("共 {n} 项", "{n} tasks"),
    "n_refused": ("{n} 项未能办理", "{n} refused"),
    "filter": ("筛选与排序", "Filter and sort"),
    "search_unit": ("单位名称或代码", "Unit name or code"),
    "item": ("任务事项", "Item"),
    "any": ("全部", "Any"),
    "due_window": ("截止时间", "Due"),
    "within_days": ("{n} 天内到期", "within {n} days"),
    "sort": ("排序", "Sort by"),
    "sort_due": ("截止时间", "due date"),
    "sort_unit": ("单位", "unit"),
    "sort_item": ("任务事项", "item"),
    "sort_state": ("状态", "state"),
    "sort_updated": ("最近办理", "last change"),
    "group_by_item": ("按事项分组", "Group by item"),
    "apply": ("查询", "Apply"),
    "reset": ("清除条件", "Clear"),
    "pick": ("选择", "Select"),
    "select_all": ("全选", "Select all"),
    "pages": ("分页", "Pages"),
    "first": ("首页", "First"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "last": ("末页", "Last"),
    "page_of": ("第 {n} / {m} 页", "Page {n} of {m}"),
    "batch_approve": ("批量通过", "Approve selected"),
    "batch_urge": ("批量催办", "Urge selected"),
    "urge_message": ("催办说明", "Message"),
    "task": ("任务", "Task"),
    "unit": ("单位", "Unit"),
    "due": ("截止", "Due"),
    "state": ("状态", "State"),
    "overdue": ("已逾期", "Overdue"),
    "escalated": ("已升级督办", "Escalated"),
    "escalated_level": ("第 {n} 级督办", "escalated, level {n}"),
    "days_left": ("剩余 {n} 天", "{n} days left"),
    "days_late": ("逾期 {n} 天", "{n} days overdue"),
    "due_today": ("今天到期", "due today"),
    "nothing": ("暂无任务", "Nothing here"),
    "submit": ("提交", "Submit"),
    "files": ("附件", "Files"),
    "file_rules": (
        "可上传 PDF、图片（JPG、PNG）、Word、Excel、PPT 或 ZIP，每个文件不超过 {mb} MB。",
        "PDF, images (JPG, PNG), Word, Excel, PowerPoint or ZIP, up to {mb} MB each.",
    ),
    "files_needed": ("至少需要 {n} 个附件。", "At least {n} file(s) needed."),
    "remove_file": ("删除", "Remove"),
    "already_uploaded": (
        "已上传 {name}，无需重传；如有误请在下方删除后重新上传",
        "{name} is uploaded; remove it below to replace it",
    ),
    "audit": ("办理记录", "History"),
    "form": ("填报", "Fill in"),
    "filled": ("填报内容", "What was filled in"),
    "source": ("依据", "Source"),
    "progress": ("完成进度", "Progress"),
    "progress_now": ("本次完成数量", "Amount achieved this time"),
    "review": ("审核", "Review"),
    "approve": ("通过", "Approve"),
    "reject": ("退回", "Send back"),
    "supervise": ("督办", "Follow up"),
    "supervise_more": ("督办：催办、延期、免除", "Follow up: urge, extend, waive"),
    "urge": ("催办", "Urge"),
    "extend": ("延期", "Extend"),
    "waive": ("免除", "Waive"),
    "new_due": ("新的截止日期", "New due date"),
    "sent_back_title": (
        "此任务已被退回，请按意见修改后重新提交",
        "This task was sent back: correct it and submit again",
    ),
    "confirm": ("确认", "Confirm"),
    "cancel": ("取消", "Cancel"),
    "confirm_approve": ("确认审核通过", "Confirm approval"),
    "confirm_reject": ("确认退回", "Confirm sending back"),
    "confirm_urge": ("确认催办", "Confirm urging"),
    "confirm_extend": ("确认延期", "Confirm extension"),
    "confirm_waive": ("确认免除", "Confirm waiving"),
    "confirm_remove_file": ("确认删除附件", "Confirm removing the file"),
    "confirm_lead_approve": ("将审核通过以下 {n} 项任务：", "These {n} task(s) will be approved:"),
    "confirm_lead_reject": ("将退回以下任务，请承办单位修改后重新提交：", "This task will be sent back:"),
    "confirm_lead_urge": (
        "将向以下 {n} 项任务的承办单位发送催办通知：",
        "The units of these {n} task(s) will be urged:",
    ),
    "confirm_lead_extend": ("将为以下任务延期：", "This task will get a new due date:"),
    "confirm_lead_waive": ("将免除以下任务（免除后不再要求办理）：", "This task will be waived:"),
    "confirm_lead_remove_file": ("将从以下任务中删除这个附件：", "This file will be removed from the task:"),
    "and_more": ("……另有 {n} 项", "… and {n} more"),
    "done_submit": ("已提交。", "Submitted."),
    "done_approve": ("已审核通过。", "Approved."),
    "done_reject": ("已退回，承办单位会收到退回原因。", "Sent back; the unit sees the reason."),
    "done_urge": ("已催办。", "Urged."),
    "done_extend": ("已延期。", "Extended."),
    "done_waive": ("已免除。", "Waived."),
    "done_remove_file": ("附件已删除。", "File removed."),
    "definition": ("任务事项", "Item"),
    "scope": ("下达范围", "Scope"),
    "find_unit": ("查找单位（名称或代码）", "Find a unit (name or code)"),
    "search": ("查找", "Search"),
    "due_date": ("截止日期（可选）", "Due date (optional)"),
    "preview": ("预览", "Preview"),
    "create": ("确认下达", "Assign now"),
    "will_create": (
        "将向 {units} 个单位下达，共创建 {n} 项任务。",
        "{n} tasks will be created for {units} units.",
    ),
    "reminders_on": ("提醒日期", "reminders on"),
    "event_note": ("此事项在登记相关事件时才创建任务。", "Tasks are created as the events are recorded."),
    "created": ("已下达，创建了 {n} 项任务。", "Assigned; {n} tasks created."),
    "already_assigned": (
        "此事项已向这个范围下达过 {n} 次（最近一次 {when}）。再次下达会重复创建任务。",
        "This item was already assigned to this scope {n} time(s) (last on {when}); assigning again repeats it.",
    ),
    "assign_again": ("我确认要再次下达", "Yes, assign it again"),
    "children": ("下级单位", "Child units"),
    "total": ("合计", "Total"),
    "period": ("周期", "Period"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "required": ("必填", "required"),
    "n_unread": ("{n} 条未读", "{n} unread"),
    "all": ("全部", "All"),
    "unread_only": ("只看未读", "Unread only"),
    "no_notices": ("暂无通知", "No notices"),
    "mark_read": ("标为已读", "Mark read"),
    "mark_all_read": ("全部标为已读", "Mark all read"),
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
