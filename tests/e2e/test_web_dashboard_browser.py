"""进度总览 in a real browser, on a desktop and on a 390 px phone: no script errors, the matrix scrolls sideways.

Screenshots are kept in DUBAN_SCREENSHOTS (default: the system temp dir) as dashboard-desktop.png
and dashboard-phone.png.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGS, CHROMIUM, PASSWORD, World
from test_web_dashboard import history

pytestmark = pytest.mark.sqlite_only
SHOTS = Path(os.environ.get("DUBAN_SCREENSHOTS", tempfile.gettempdir()))


def test_the_dashboard_on_a_desktop_and_on_a_phone(world: World, server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    history(world)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport in (
            ("desktop", {"width": 1280, "height": 900}),
            ("phone", {"width": 390, "height": 844}),
        ):
            context = browser.new_context(viewport=viewport)
            page: Any = context.new_page()
            problems: list[str] = []
            page.on(
                "console",
                lambda m, problems=problems: (
                    problems.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            # Resources the page asks for must all be there (the favicon is the layout's, not this page's).
            page.on(
                "response",
                lambda r, problems=problems: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.goto(f"{server}/login")
            page.fill("input[name=username]", "c01-admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{server}/ui/dashboard")
            expect(page.locator("h1")).to_contain_text("进度总览")
            cards = page.locator("ol.board-cards > li")
            expect(cards).to_have_count(2)
            # The page itself never scrolls sideways; the matrix does, inside its own box.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name}: the page is {width} px wide"
            box = page.locator(".matrix-scroll")
            if name == "phone":
                first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
                assert second["y"] > first["y"] + first["height"] - 1, "cards stack in one column"
                assert box.evaluate("e => e.scrollWidth > e.clientWidth"), "the matrix scrolls sideways"
            page.screenshot(path=str(SHOTS / f"dashboard-{name}.png"), full_page=True)
            assert problems == [], problems  # no CSP refusal, no script error
            page.locator("ol.board-cards a", has_text="莞城街道总工会").click()
            expect(page.locator("nav.crumbs")).to_contain_text("东莞市总工会")
            context.close()
        browser.close()
