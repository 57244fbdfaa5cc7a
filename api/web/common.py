"""What every page shares: rendering in the caller's language, the signed-in caller, CSRF, dates in words."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from duban.api.deps import COOKIE, Ctx, web_ctx
from duban.api.i18n import lang_of, translator
from duban.engine.errors import Forbidden, Unauthenticated
from duban.engine.store.models import InboxItem, Unit
from duban.engine.time.timeline import last_day

templates = Jinja2Templates(directory=FsPath(__file__).parent.parent / "templates")
SOON = timedelta(days=7)
CSRF_FIELD = "csrf"


def signed_in(request: Request) -> Ctx | None:
    """The caller, or None (the page then sends them to sign in)."""
    try:
        return web_ctx(request)
    except Unauthenticated:
        return None


Caller = Annotated[Ctx | None, Depends(signed_in)]


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def redirect(url: str) -> RedirectResponse:
    """POST/redirect/GET: the answer to every change, so a reload never repeats it."""
    return RedirectResponse(url, status_code=303)


def csrf_token(ctx: Ctx) -> str:
    """The session's form token: derived from the session token, so it needs no storage and dies with it."""
    key = ctx.settings.secret_key.encode()
    return hmac.new(key, b"csrf\0" + ctx.token.encode(), hashlib.sha256).hexdigest()[:40]


def same_origin(request: Request) -> bool:
    """A browser's form post from this site (Sec-Fetch-Site, else Origin); clients that send neither pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


async def posted(request: Request, ctx: Ctx | None) -> Any:
    """The posted form, once its origin and (when signed in) its CSRF token are checked."""
    if not same_origin(request):
        raise Forbidden("cross-site form post refused")
    form = await request.form()
    if ctx is not None and not hmac.compare_digest(str(form.get(CSRF_FIELD, "")), csrf_token(ctx)):
        raise Forbidden("the form's security token is missing or stale; reload the page and try again")
    return form


def unread_count(ctx: Ctx) -> int:
    return header_facts(ctx)[0]


def header_facts(ctx: Ctx) -> tuple[int, str]:
    """The header's unread count and the caller's union name, in one read."""
    if ctx.actor.account_id is None:
        return 0, ""
    with ctx.read() as s:
        unread = s.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.account_id == ctx.actor.account_id, InboxItem.read_at.is_(None))  # type: ignore[union-attr]
        )
        name = s.scalar(select(Unit.name).where(Unit.id == ctx.actor.unit_id))
    return unread or 0, name or ""


def page(request: Request, name: str, ctx: Ctx | None, status: int = 200, **values: Any) -> HTMLResponse:
    """Render a page in the caller's language (and remember an explicit ?lang=)."""
    lang = lang_of(request)
    t = translator(lang)
    unread, unit_name = header_facts(ctx) if ctx else (0, "")
    context = {
        "t": t,
        "lang": lang,
        "me": ctx.actor if ctx else None,
        "csrf": csrf_token(ctx) if ctx else "",
        "unread": unread,
        "me_unit": unit_name,
        "lang_link": lang_link(request),
        "when": lambda value, clock=False: when(value, lang, clock),
        "period": lambda label: period_words(label, lang),
        "deadline": lambda due_at: when(due_day({"due_at": due_at}), lang),
        "size": file_size,
        "days": lambda task: days_text(ctx, task, t) if ctx else "",
        "refused": None,
        "field_errors": {},
        **values,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    if ctx is not None:
        # A signed-in page must not come back from the cache after 退出 (the Back button).
        response.headers["Cache-Control"] = "no-store"
    return response


_TASK_PAGE = re.compile(r"^/ui/tasks/\d+")


def lang_link(request: Request) -> dict[str, str]:
    """This page's address in each language: a GET link, so it works on the page a POST answered too."""
    path = request.url.path
    if request.method != "GET":
        # A refused form answers at its POST target; switching language goes back to the page it came from.
        task = _TASK_PAGE.match(path)
        path = task.group(0) if task else "/ui/tasks" if path == "/ui/batch" else path
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    return {lang: f"{path}?{urlencode({**query, 'lang': lang})}" for lang in ("zh", "en")}


def when(value: str | datetime | date | None, lang: str, clock: bool = False) -> str:
    """A date (or instant) as people write it: 2026年3月2日 (09:00) / 2 Mar 2026 (09:00)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    day = value.date() if isinstance(value, datetime) else value
    text = f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else f"{day.day} {day:%b} {day.year}"
    if clock and isinstance(value, datetime):
        text += f" {value:%H:%M}"
    return text


_PERIOD = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|W\d\d|\d\d)(?:-(\d\d))?)?$")
_ZH_HALF = {"H1": "上半年", "H2": "下半年"}
_ZH_QUARTER = {"Q1": "第一季度", "Q2": "第二季度", "Q3": "第三季度", "Q4": "第四季度"}


def period_words(label: str | None, lang: str) -> str:
    """A period label (2026, 2026-H1, 2026-Q1, 2026-03, 2026-W10, or an event's day) in words."""
    if not label:
        return ""
    m = _PERIOD.match(label)
    if m is None:
        return label
    year, part, day = m.groups()
    if day:
        return when(label, lang)
    if lang != "zh":
        return label
    if part is None:
        return f"{year}年"
    if part in _ZH_HALF:
        return f"{year}年{_ZH_HALF[part]}"
    if part in _ZH_QUARTER:
        return f"{year}年{_ZH_QUARTER[part]}"
    if part.startswith("W"):
        return f"{year}年第{int(part[1:])}周"
    return f"{year}年{int(part)}月"


def file_size(n: int) -> str:
    """A file's size as people read it: 820 KB, 3.4 MB (never 0 KB)."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def due_day(task: dict[str, Any]) -> date:
    """The last day of a task: a deadline at local midnight belongs to the day before."""
    return last_day(datetime.fromisoformat(task["due_at"]))


def badge(ctx: Ctx, task: dict[str, Any]) -> str:
    """overdue (red), soon (amber) or ok, for an unfinished task; finished otherwise."""
    if task["state"] not in ("open", "submitted"):
        return "finished"
    now = ctx.rt.now()
    overdue_at = datetime.fromisoformat(task["overdue_at"])
    if now >= overdue_at:
        return "overdue"
    return "soon" if overdue_at - now <= SOON else "ok"


def days_text(ctx: Ctx, task: dict[str, Any], t: Any) -> str:
    """剩余 N 天 / 今天到期 / 逾期 N 天, for an unfinished task."""
    if task["state"] not in ("open", "submitted"):
        return ""
    today = ctx.rt.local(ctx.rt.now()).date()
    left = (due_day(task) - today).days
    if left > 0:
        return t("days_left").format(n=left)
    if left == 0 and ctx.rt.now() < datetime.fromisoformat(task["overdue_at"]):
        return t("due_today")
    return t("days_late").format(n=max(1, -left))


def query_with(request: Request, **changes: Any) -> str:
    """This page's query with some parameters changed (None drops one): for filter, sort and page links."""
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    for k, v in changes.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = str(v)
    return "?" + urlencode(query)


def logout_cookie(response: Any) -> Any:
    response.delete_cookie(COOKIE)
    return response
