"""The words duban shows for its own names: states, notice kinds, history events, levels.

One table, so the web pages, the notices and the exports call a thing by the same name
(a waived task is 已免除 everywhere). Pure data: whoever introduces a new state, kind or
event adds its pair here. Keys are "<group>.<name>": state., kind., action., level., reason.
"""

from __future__ import annotations

from typing import Final

LANGS: Final = ("zh", "en")

LABELS: Final[dict[str, tuple[str, str]]] = {
    # Task states (engine/store/models.py TaskState).
    "state.open": ("待办理", "Open"),
    "state.submitted": ("待审核", "Awaiting approval"),
    "state.done": ("已完成", "Done"),
    "state.waived": ("已免除", "Waived"),
    "state.cancelled": ("已撤销", "Cancelled"),
    # Notice kinds (engine/followup/notices.py), in the words of a message's heading.
    "kind.escalation": ("已逾期·督办", "Overdue, escalated"),
    "kind.urge": ("催办", "Urged"),
    "kind.reminder": ("即将到期", "Due soon"),
    "kind.rejected": ("已退回", "Sent back"),
    "kind.submitted": ("待审核", "Awaiting your approval"),
    "kind.approval_overdue": ("审核超期", "Approval overdue"),
    "kind.assigned": ("新任务", "New task"),
    "kind.extended": ("已延期", "Extended"),
    "kind.approved": ("已通过", "Approved"),
    "kind.waived": ("已免除", "Waived"),
    "kind.cancelled": ("已撤销", "Cancelled"),
    # History events (audit actions), as a sentence's verb: "<who> <label>".
    "action.task.created": ("创建任务", "created the task"),
    "action.task.submitted": ("提交办理材料", "submitted"),
    "action.task.progressed": ("报送进度", "reported progress"),
    "action.task.approved": ("审核通过", "approved"),
    "action.task.rejected": ("退回", "sent back"),
    "action.task.waived": ("免除任务", "waived the task"),
    "action.task.extended": ("延期", "extended the due date"),
    "action.task.urged": ("催办", "urged"),
    "action.task.cancelled": ("撤销任务", "cancelled the task"),
    "action.task.reminded": ("发送到期提醒", "sent a reminder"),
    "action.task.reminder_skipped": ("跳过提醒", "skipped a reminder"),
    "action.task.escalated": ("逾期升级督办", "escalated as overdue"),
    "action.task.approval_overdue": ("审核超期，报上级督办", "reported the approval as overdue"),
    "action.task.rescheduled": ("重新排期", "rescheduled"),
    "action.task.recomputed": ("重算时间表", "recomputed the timeline"),
    "action.task.files_attached": ("上传附件", "attached files"),
    "action.task.file_removed": ("删除附件", "removed a file"),
    "action.assignment.created": ("下达任务", "assigned"),
    "action.assignment.withdrawn": ("撤回下达", "withdrew the assignment"),
    "action.assignment.ended": ("结束下达", "ended the assignment"),
    "action.assignment.reconciled": ("同步下达范围", "reconciled the scope"),
    "action.definition.loaded": ("载入任务定义", "loaded a definition"),
    "action.plan.assigned": ("按计划下达", "assigned a plan"),
    "action.target.split": ("分解目标", "split the target"),
    "action.event.posted": ("登记事件", "recorded an event"),
    "action.unit.moved": ("调整隶属", "moved the unit"),
    "action.unit.contacts_set": ("设置联系方式", "set the contacts"),
    "action.account.added": ("新增账号", "added an account"),
    "action.account.password_changed": ("修改密码", "changed the password"),
    "action.account.disabled": ("停用账号", "disabled the account"),
    "action.account.enabled": ("启用账号", "enabled the account"),
    "action.account.password_reset": ("重置密码", "reset the password"),
    "action.period.opened": ("开启新周期", "opened a new period"),
    "action.scheme.loaded": ("载入考核细则", "loaded a scoring scheme"),
    "action.assessment.closed": ("关闭考核（结果冻结）", "closed the assessment"),
    "action.assessment.reopened": ("重新开启考核", "reopened the assessment"),
    "action.score.quality": ("质量评分", "scored the quality"),
    "action.score.bonus": ("加分", "gave bonus points"),
    "action.outbox.dead": ("通知发送失败", "gave up sending a notice"),
    "action.outbox.retried": ("重新发送通知", "retried notices"),
    # An assessment's state (engine/assess/assessment.py) and what costs an item points.
    "assessment_state.open": ("进行中", "Open"),
    "assessment_state.closed": ("已关闭", "Closed"),
    "deduction.late": ("逾期提交", "Handed in late"),
    "deduction.missing": ("逾期未完成", "Not done past the deadline"),
    "deduction.rejected": ("被退回", "Sent back"),
    # Union levels (engine/language/model.py Level).
    "level.national": ("全国", "National"),
    "level.provincial": ("省级", "Provincial"),
    "level.municipal": ("市级", "City"),
    "level.county": ("县级", "County"),
    "level.township": ("乡镇（街道）", "Township/street"),
    "level.grassroots": ("基层", "Grassroots"),
    "level.sub": ("分会", "Sub-union"),
    # What a reason is called, by the move or notice kind that carries it.
    "reason.rejected": ("退回原因", "Reason sent back"),
    "reason.urge": ("催办说明", "Message"),
    "reason.waived": ("免除原因", "Reason waived"),
    "reason.extended": ("延期原因", "Reason extended"),
    "reason.approved": ("审核意见", "Approval note"),
    "reason.other": ("说明", "Note"),
    # Who acts when no person does.
    "actor.system": ("系统", "the system"),
}


def label(key: str, lang: str = "zh") -> str:
    """The label of `key` in `lang`; an unknown key is shown by its last part, never as an error."""
    pair = LABELS.get(key)
    if pair is None:
        return key.rsplit(".", 1)[-1]
    return pair[1] if lang == "en" else pair[0]


def has(key: str) -> bool:
    return key in LABELS
