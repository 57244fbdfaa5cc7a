"""A branch's and its township's day through the web pages (HTTP, no browser): submit with labelled
files, a refusal that keeps what was typed, send back with a reason the branch sees everywhere,
remove a wrong file, resubmit, batch approve, urge, read the inbox. Every change redirects."""

from __future__ import annotations

import re
from typing import Any

from conftest import PASSWORD, PNG, World
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.engine.access.actors import actor_for
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.language.loader import parse_definition
from duban.engine.store.db import write_session
from duban.engine.store.models import Audit, Task, Unit
from duban.engine.work import fanout
from duban.engine.work.catalog import store_definitions

HOME_DEF = """\
id: home-check
title: 职工之家建设
title_en: Workers' home
source: "《2026年工作要点》第三条"
description: 上传职工之家照片和活动台账。
applies_to: {levels: [grassroots]}
trigger: assigned
due: {after: P10D}
completion:
  form:
    members: {type: integer, required: true, label: 会员人数, label_en: Members, min: 1}
  attachments: {min: 2, labels: [照片, 台账]}
approval: [parent]
"""


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def as_user(client: TestClient, name: str) -> str:
    client.cookies.clear()
    r = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    return csrf_of(client.get("/ui").text)


def task_of(world: World, code: str) -> int:
    with write_session(world.db) as s:
        return s.scalar(
            select(Task.id)
            .join(Unit, Unit.id == Task.unit_id)
            .where(Unit.code == code, Task.state != "cancelled")
        )


def png(name: str) -> tuple[str, bytes, str]:
    return (name, PNG, "image/png")


def card(html: str, key: str) -> int:
    found = re.search(rf'id="card-{key}">\s*<span class="n">(\d+)</span>', html)
    assert found, key
    return int(found.group(1))


def test_submit_send_back_resubmit_approve_urge(world: World, client: TestClient, backend: str) -> None:
    with write_session(world.db) as s:
        store_definitions(
            s, world.rt.now(), actor_for(s, "c01-admin"), [parse_definition(HOME_DEF, "home.yaml")]
        )
        fanout.assign_definition(s, world.rt, actor_for(s, "c01-admin"), "home-check", "C01")
    g01, g02 = task_of(world, "G01"), task_of(world, "G02")

    csrf = as_user(client, "g01-staff")
    home = client.get("/ui").text
    # A branch's staff: its own work first; only admins approve (G01 has a sub-union below it to follow).
    assert card(home, "todo") == 1 and 'id="card-approve"' not in home and card(home, "late_below") == 0
    assert 'id="urgent"' in home and "职工之家建设" in home
    page = client.get(f"/ui/tasks/{g01}").text
    assert (
        "上传职工之家照片和活动台账" in page and "《2026年工作要点》第三条" in page and "剩余 10 天" in page
    )
    assert page.count('type="file"') == 2 and 'accept=".pdf' in page and "不超过 1 MB" in page
    # A refused submission names the field beside it, in Chinese, and keeps what was typed.
    r = client.post(
        f"/ui/tasks/{g01}/submit",
        data={"csrf": csrf, "f_members": "0"},
        files={"file_0": png("home.png")},
    )
    assert r.status_code == 422
    assert 'class="field-error" role="alert">不能小于 1' in r.text and 'value="0"' in r.text
    assert "至少需要 2 个附件" in r.text and "at least" not in r.text
    # Submitted: the redirect, then 待审核.
    r = client.post(
        f"/ui/tasks/{g01}/submit",
        data={"csrf": csrf, "f_members": "120"},
        files={"file_0": png("wrong.png"), "file_1": png("ledger.png")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert (
        'id="state" class="state-submitted">待审核' in page and "会员人数" in page and 'class="thumb"' in page
    )

    # The township sees it waiting for its approval, and sends it back with a reason.
    csrf = as_user(client, "t01-admin")
    assert card(client.get("/ui").text, "approve") == 1
    assert f'data-task="{g01}"' in client.get("/ui/tasks?view=approve").text
    r = client.post(f"/ui/tasks/{g01}/reject", data={"csrf": csrf, "reason": ""})
    assert r.status_code == 422 and "请填写原因" in r.text
    reason = "照片不清楚，请重新拍摄"
    r = client.post(f"/ui/tasks/{g01}/reject", data={"csrf": csrf, "reason": reason})
    assert r.status_code == 200 and 'id="confirm"' in r.text and reason in r.text  # nothing changed yet
    r = client.post(
        f"/ui/tasks/{g01}/reject",
        data={"csrf": csrf, "reason": reason, "confirmed": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.get(r.headers["location"])  # the reload of a redirect repeats nothing
    client.get(r.headers["location"])
    with write_session(world.db) as s:
        assert s.scalar(select(Task.state).where(Task.id == g01)) == "open"
        rejected = s.scalars(select(Audit).where(Audit.task_id == g01, Audit.action == "task.rejected")).all()
        assert len(rejected) == 1

    deliver_outbox(world.db, world.rt, {})
    # The branch sees the reason on its task, in its list and in its inbox.
    csrf = as_user(client, "g01-staff")
    page = client.get(f"/ui/tasks/{g01}").text
    assert 'id="reject-reason">' + reason in page and "退回原因：" + reason in page
    assert reason in client.get("/ui/tasks?view=todo").text
    home = client.get("/ui").text
    assert card(home, "unread") >= 1 and 'id="unread"' in home
    inbox = client.get("/ui/inbox").text
    assert "已退回" in inbox and reason in inbox and "职工之家建设" in inbox
    # A wrong file is taken back (after confirming), and the work handed in again.
    file_id = int(re.search(rf"/ui/tasks/{g01}/files/(\d+)/remove", page).group(1))
    r = client.post(f"/ui/tasks/{g01}/files/{file_id}/remove", data={"csrf": csrf})
    assert r.status_code == 200 and "wrong.png" in r.text
    r = client.post(
        f"/ui/tasks/{g01}/files/{file_id}/remove",
        data={"csrf": csrf, "confirmed": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/ui/tasks/{g01}").text
    assert "wrong.png" not in page and "删除附件" in page
    r = client.post(
        f"/ui/tasks/{g01}/submit",
        data={"csrf": csrf, "f_members": "120"},
        files={"file_0": png("home-new.png")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    client.post("/ui/inbox/read", data={"csrf": csrf, "all": "1"})
    assert card(client.get("/ui").text, "unread") == 0

    # The township approves in a batch (confirm, then act) and urges the other branch.
    csrf = as_user(client, "t01-admin")
    r = client.post(
        "/ui/batch",
        data={"csrf": csrf, "move": "approve", "ids": [str(g01)], "back": "/ui/tasks?view=approve"},
    )
    assert r.status_code == 200 and 'id="confirm"' in r.text
    r = client.post(
        "/ui/batch",
        data={
            "csrf": csrf,
            "move": "approve",
            "ids": [str(g01)],
            "back": "/ui/tasks?view=approve",
            "confirmed": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "done=approve&n=1" in r.headers["location"]
    assert "已审核通过" in client.get(r.headers["location"]).text
    r = client.post(
        f"/ui/tasks/{g02}/urge",
        data={"csrf": csrf, "reason": "请本周内完成", "confirmed": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    history = client.get(f"/ui/tasks/{g02}").text
    assert "莞城社区工会联合会 管理员" in history and "催办说明：请本周内完成" in history

    deliver_outbox(world.db, world.rt, {})
    csrf = as_user(client, "g02-staff")
    assert "请本周内完成" in client.get("/ui/inbox").text
    with write_session(world.db) as s:
        assert s.scalar(select(Task.state).where(Task.id == g01)) == "done"


def test_list_filters_search_sort_and_pages(world: World, client: TestClient, backend: str) -> None:
    with write_session(world.db) as s:
        store_definitions(
            s, world.rt.now(), actor_for(s, "c01-admin"), [parse_definition(HOME_DEF, "home.yaml")]
        )
        fanout.assign_definition(s, world.rt, actor_for(s, "c01-admin"), "home-check", "C01")
    as_user(client, "c01-admin")
    page: Any = client.get("/ui/tasks?view=all").text
    assert "共 4 项" in page and page.count('class="task-row"') == 4
    page = client.get("/ui/tasks?view=all&q=虎门").text
    assert "共 2 项" in page and "虎门服装城市场工会" in page and "华达电子" not in page
    page = client.get("/ui/tasks?view=all&unit=T01").text
    assert "共 2 项" in page and "莞城社区工会联合会" in page
    assert "共 0 项" in client.get("/ui/tasks?view=all&late=1").text
    assert "共 4 项" in client.get("/ui/tasks?view=all&due=30&sort=unit&desc=1&group=item").text
    assert client.get("/ui/tasks?view=all&unit=X01").status_code == 404
