"""Where a unit's notices go: email addresses and robot webhooks.

Stored on the unit as {"email": [...], "webhooks": [{"kind", "url", "secret"}]}.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from duban.engine.access.actors import Actor
from duban.engine.channels.targets import check_target
from duban.engine.errors import InvalidInput, Problem
from duban.engine.org import tree
from duban.engine.store import audit
from duban.engine.validation import plain_text

WEBHOOK_KINDS = ("generic", "wecom", "dingtalk")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def parse_contacts(raw: dict[str, Any], webhook_hosts: Sequence[str] = ()) -> dict[str, Any]:
    """Check and normalise a contacts object; ValueError says what is wrong.

    A webhook may not name a link-local or cloud metadata address, nor (when the deployment lists
    its webhook hosts) a host off the list (`engine/channels/targets.py`).
    """
    unknown = set(raw) - {"email", "webhooks"}
    if unknown:
        raise ValueError(f"unknown contact keys {sorted(unknown)}; use email and webhooks")
    emails = raw.get("email", [])
    if isinstance(emails, str):
        emails = [emails]
    for address in emails:
        if not isinstance(address, str) or not EMAIL.fullmatch(plain_text(address)):
            raise ValueError(f"{address!r} is not an email address")
    hooks = []
    for hook in raw.get("webhooks", []):
        if not isinstance(hook, dict):
            raise ValueError("each webhook is an object with kind, url and (for dingtalk) secret")
        hooks.append(_webhook(hook.get("kind", ""), hook.get("url", ""), hook.get("secret"), webhook_hosts))
    return {"email": list(emails), "webhooks": hooks}


def parse_webhook_option(option: str, webhook_hosts: Sequence[str] = ()) -> dict[str, Any]:
    """Parse the command line's KIND=URL[#SECRET]."""
    kind, sep, rest = option.partition("=")
    if not sep:
        raise ValueError(f"{option!r}: expected KIND=URL[#SECRET]")
    url, _, secret = rest.partition("#")
    return _webhook(kind, url, secret or None, webhook_hosts)


def _webhook(kind: str, url: str, secret: str | None, webhook_hosts: Sequence[str]) -> dict[str, Any]:
    if kind not in WEBHOOK_KINDS:
        raise ValueError(f"webhook kind {kind!r} is not one of {', '.join(WEBHOOK_KINDS)}")
    parts = urlsplit(plain_text(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL")
    check_target(url, webhook_hosts)
    if kind == "dingtalk" and not secret:
        raise ValueError("a dingtalk webhook needs its signing secret (URL#SECRET)")
    return {"kind": kind, "url": url, "secret": secret}


def set_contacts(
    session: Session,
    now: datetime,
    actor: Actor,
    code: str,
    emails: list[str],
    webhooks: list[str],
    webhook_hosts: Sequence[str] = (),
) -> dict[str, Any]:
    """Replace a unit's contacts; a refused webhook changes nothing."""
    unit = tree.get_unit(session, code)
    try:
        hooks = [parse_webhook_option(w, webhook_hosts) for w in webhooks]
        contacts = parse_contacts({"email": emails, "webhooks": hooks}, webhook_hosts)
    except ValueError as exc:
        raise InvalidInput([Problem(code, "contacts", str(exc))]) from exc
    unit.contacts = contacts
    session.add(unit)
    shown = {
        "email": contacts["email"],
        "webhooks": [{"kind": h["kind"], "url": h["url"]} for h in contacts["webhooks"]],
    }
    audit.record(session, now, actor.name, "unit.contacts_set", unit_id=unit.id, payload=shown)
    return shown
