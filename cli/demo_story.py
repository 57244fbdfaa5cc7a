"""What the demo's officers do during the replayed weeks, so every page has something real to show.

Day by day (days counted from the replay's start): a branch's work done and approved on time, a
submission sent back with its reason, a wrong file taken back and the work resubmitted, branches
waiting for their street's approval, a street reporting progress on its target, a district urging
late work below it. The rest (reminders, escalations, notices) comes from the sweep.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from duban.engine.access.actors import Actor, actor_for
from duban.engine.overview.tasks import TaskFilter, list_tasks
from duban.engine.runtime import Runtime
from duban.engine.store.db import write_session
from duban.engine.store.models import Attachment, Task, Unit
from duban.engine.work import lifecycle
from duban.engine.work.attachments import store_file

# (name, unit, role, what they are, in the words shown at the end)
ACCOUNTS = [
    ("city-admin", "C01", "admin", "市总工会（市级）管理员"),
    ("district1-admin", "K01", "admin", "第1区总工会（县级）管理员"),
    ("street11-admin", "K01T01", "admin", "第1区1街道工会（街道）管理员"),
    ("factory-staff", "K01T01G01", "staff", "1区1街电子有限公司工会（基层）经办人"),
    ("market-staff", "K01T01G03", "staff", "1区1街商贸市场工会（基层）经办人"),
    ("port-staff", "K01T01G04", "staff", "1区1街港务集团工会（基层）经办人"),
]
# The subjects of the demo's events, by name: a list row says whose transfer it is.
PEOPLE = """id,name,unit_code,kind,appointed_on,birthday
cadre-001,王建国,K01T01G01,cadre,{start},
member-0042,李娜,K02T01G03,member,,
member-0107,张伟,K03T02G02,member,,
"""
SENT_BACK = "签到表缺少部分到会人员签字，请补齐后重新上传。"
URGE = "已逾期，请于本周五前办结并上传材料。"


def picture(rgb: tuple[int, int, int], width: int = 160, height: int = 120) -> bytes:
    """A small one-colour PNG: real image bytes for the thumbnails, made without an imaging library."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@dataclass
class Story:
    """The demo's moves, each on its day; `act(day)` runs that day's."""

    engine: Engine
    rt: Runtime
    start: date

    def task(self, s: Session, def_id: str, unit: str) -> int:
        from duban.engine.store.models import Assignment

        return s.scalar(
            select(Task.id)
            .join(Unit, Unit.id == Task.unit_id)
            .join(Assignment, Assignment.id == Task.assignment_id)
            .where(Assignment.def_id == def_id, Unit.code == unit)
            .order_by(Task.id)
        )

    def files(self, *labelled: tuple[str, str, tuple[int, int, int]]) -> list:
        return [
            store_file(self.rt, io.BytesIO(picture(colour)), name, label) for label, name, colour in labelled
        ]

    def as_(self, s: Session, name: str) -> Actor:
        return actor_for(s, name)

    def display(self, s: Session) -> None:
        lifecycle.submit_task(
            s,
            self.rt,
            self.as_(s, "factory-staff"),
            self.task(s, "double-display", "K01T01G01"),
            form={
                "chair_name": "陈明",
                "displayed_on": self.rt.local(self.rt.now()).date().isoformat(),
            },
            files=self.files(
                ("工会牌子照片", "牌子.png", (183, 28, 28)),
                ("工会主席身份公示照片", "主席公示.png", (21, 101, 192)),
            ),
        )

    def congress(self, s: Session, who: str = "factory-staff", unit: str = "K01T01G01") -> None:
        lifecycle.submit_task(
            s,
            self.rt,
            self.as_(s, who),
            self.task(s, "member-congress-annual", unit),
            form={
                "held_on": self.start.isoformat(),
                "kind": "会员代表大会",
                "members_total": 86,
                "attendees": 79,
                "agenda": "审议工会工作报告；选举经费审查委员会",
            },
            files=self.files(
                ("会议记录", "会议记录.png", (46, 125, 50)), ("签到表", "签到表.png", (249, 168, 37))
            ),
        )

    def resubmit_congress(self, s: Session) -> None:
        task_id = self.task(s, "member-congress-annual", "K01T01G01")
        staff = self.as_(s, "factory-staff")
        wrong = s.scalar(
            select(Attachment.id).where(Attachment.task_id == task_id, Attachment.label == "签到表")
        )
        lifecycle.remove_file(s, self.rt, staff, task_id, wrong)
        lifecycle.submit_task(
            s,
            self.rt,
            staff,
            task_id,
            form={
                "held_on": self.start.isoformat(),
                "kind": "会员代表大会",
                "members_total": 86,
                "attendees": 79,
            },
            files=self.files(("签到表", "签到表（补齐）.png", (255, 193, 7))),
        )

    def urge_late(self, s: Session) -> None:
        district = self.as_(s, "district1-admin")
        late = list_tasks(
            s, self.rt.now(), self.rt.tz, district, TaskFilter(below=True, overdue=True, limit=3)
        )
        for t in late["items"]:
            lifecycle.urge_task(s, self.rt, district, t["id"], URGE)

    def moves(self) -> dict[int, list[Callable[[Session], object]]]:
        street = "street11-admin"
        return {
            1: [self.display],
            3: [
                lambda s: lifecycle.approve_task(
                    s, self.rt, self.as_(s, street), self.task(s, "double-display", "K01T01G01")
                )
            ],
            5: [self.congress],
            7: [
                lambda s: lifecycle.reject_task(
                    s,
                    self.rt,
                    self.as_(s, street),
                    self.task(s, "member-congress-annual", "K01T01G01"),
                    SENT_BACK,
                )
            ],
            9: [self.resubmit_congress],
            15: [lambda s: self.congress(s, "market-staff", "K01T01G03")],
            16: [lambda s: self.congress(s, "port-staff", "K01T01G04")],
            20: [
                lambda s: lifecycle.submit_task(
                    s,
                    self.rt,
                    self.as_(s, street),
                    self.task(s, "non-public-union-organising", "K01T01"),
                    progress=2,
                )
            ],
            30: [self.urge_late],
        }

    def act(self, day: int) -> None:
        for move in self.moves().get(day, []):
            with write_session(self.engine) as s:
                move(s)
