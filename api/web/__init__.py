"""The web UI: server-rendered pages over the same engine services and the same accounts.

Plain HTML forms that work without JavaScript; the session cookie carries an API token
(HttpOnly, SameSite=Lax), every form carries the session's CSRF token, every change
answers with a redirect (a reload never repeats it), and refusals are shown on the page
they came from, in the reader's words. One module per group of pages.
"""

from __future__ import annotations

from fastapi import APIRouter

from duban.api.web import (
    assess_pages,
    assign_pages,
    auth_pages,
    event_pages,
    home,
    inbox_page,
    lists,
    report_pages,
    task_pages,
)
from duban.api.web.common import Caller, page, to_login

__all__ = ["PAGE_MODULES", "Caller", "page", "router", "to_login"]

PAGE_MODULES = (
    auth_pages,
    home,
    lists,
    task_pages,
    assign_pages,
    event_pages,
    inbox_page,
    report_pages,
    assess_pages,
)
router = APIRouter(include_in_schema=False)
for _module in PAGE_MODULES:
    router.include_router(_module.router)
