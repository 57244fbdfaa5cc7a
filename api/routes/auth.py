"""Signing in and out (OAuth2 password flow, bearer tokens) and changing one's own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field

from duban.api.deps import Api, client_address
from duban.api.docs import ok
from duban.engine.access import sessions
from duban.engine.errors import Unauthenticated

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class PasswordChange(BaseModel):
    """Prove the old password, give the new one."""

    old_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


def issue(request: Request, username: str, password: str) -> sessions.IssuedToken:
    """Sign in with a name and password (shared with the web UI); Unauthenticated when wrong."""
    state = request.app.state
    issued = sessions.sign_in(
        state.engine,
        state.runtime.now(),
        username,
        password,
        client_address(request),
        state.settings.token_minutes,
    )
    if issued is None:
        raise Unauthenticated("wrong account name or password")
    return issued


@router.post(
    "/token",
    summary="Sign in (OAuth2 password flow)",
    description="Exchange an account name and password (form fields `username`, `password`) for a bearer token. "
    "Only the token's SHA-256 is stored; it expires after the deployment's `token_minutes`. Five failures for one "
    "account from one address, twenty from one address, or fifty for one account within an hour from addresses it "
    "has not signed in from, answer 429 with `Retry-After`.",
    responses=ok({"access_token": "q3Xv…", "token_type": "bearer", "expires_in": 43200}, 401, 422, 429),
)
def token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
) -> dict[str, object]:
    issued = issue(request, username, password)
    return {"access_token": issued.token, "token_type": "bearer", "expires_in": issued.expires_in}


@router.post(
    "/logout",
    summary="Sign out",
    description="Revoke the bearer token this request carries.",
    responses=ok({"revoked": True}, 401),
)
def logout(ctx: Api) -> dict[str, bool]:
    with ctx.write() as s:
        return {"revoked": sessions.revoke_token(s, ctx.rt.now(), ctx.token)}


@router.post(
    "/password",
    summary="Change one's own password",
    description="Prove the old password and set a new one (at least 8 characters). Every token of the account, "
    "including this one, is revoked: sign in again. A wrong old password counts as a failed sign-in (429 once "
    "throttled).",
    responses=ok({"changed": True}, 401, 422, 429),
)
def password(request: Request, ctx: Api, body: PasswordChange) -> dict[str, bool]:
    sessions.change_password(
        ctx.engine,
        ctx.rt.now(),
        ctx.actor.name,
        body.old_password,
        body.new_password,
        client_address(request),
    )
    return {"changed": True}


@router.get(
    "/me",
    summary="Who am I",
    description="The signed-in account: its name, role and unit.",
    responses=ok({"name": "g01-staff", "role": "staff", "unit_code": "G01"}, 401),
)
def me(ctx: Api) -> dict[str, object]:
    return {"name": ctx.actor.name, "role": str(ctx.actor.role), "unit_code": ctx.actor.unit_code}
