"""Request dependencies: the database, the runtime, and the caller (bearer token or session cookie)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlmodel import Session

from duban.engine.access import sessions
from duban.engine.access.actors import Actor
from duban.engine.runtime import Runtime
from duban.engine.store.db import read_session, write_session
from duban.settings import Settings

COOKIE = "duban_session"
oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", auto_error=False, description="Bearer token from POST /api/v1/auth/token"
)


@dataclass
class Ctx:
    """What a route needs: the database, the runtime, the settings and (once signed in) the caller."""

    engine: Engine
    rt: Runtime
    settings: Settings
    actor: Actor
    token: str = ""

    @contextmanager
    def write(self) -> Iterator[Session]:
        with write_session(self.engine) as s:
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        with read_session(self.engine) as s:
            yield s


def _caller(request: Request, token: str | None) -> tuple[Actor, str]:
    state = request.app.state
    with read_session(state.engine) as s:
        return sessions.verify_token(s, state.runtime.now(), token), token or ""


def api_ctx(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Ctx:
    """The caller of an API route, from its bearer token (401 without a live one)."""
    actor, raw = _caller(request, token)
    state = request.app.state
    return Ctx(state.engine, state.runtime, state.settings, actor, raw)


def web_ctx(request: Request) -> Ctx:
    """The caller of a web page, from the session cookie (the same tokens)."""
    actor, raw = _caller(request, request.cookies.get(COOKIE))
    state = request.app.state
    return Ctx(state.engine, state.runtime, state.settings, actor, raw)


@lru_cache(maxsize=8)
def trusted_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """DUBAN_TRUSTED_PROXIES as networks; ValueError names a bad entry."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                found.append(ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"DUBAN_TRUSTED_PROXIES: {part!r} is not an address or network") from None
    return tuple(found)


def _within(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: Request) -> str:
    """The client's address, for sign-in throttling.

    X-Forwarded-For is read only when the connection comes from a configured proxy
    (DUBAN_TRUSTED_PROXIES); then the client is the nearest address in it that is not one
    of those proxies. Anyone else could write any address there and spread guesses over them.
    """
    peer = request.client.host if request.client else "unknown"
    proxies = trusted_networks(request.app.state.settings.trusted_proxies)
    if not proxies or not _within(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


Api = Annotated[Ctx, Depends(api_ctx)]
Web = Annotated[Ctx, Depends(web_ctx)]
