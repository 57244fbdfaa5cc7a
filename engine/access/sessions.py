"""Signing in: bearer tokens issued, verified and revoked, and sign-in throttling.

A token is random (`secrets.token_urlsafe`); only its SHA-256 is stored, so a copy
of the database lets nobody sign in. Failed attempts are counted per account name
and per client address over a sliding window; too many answer Throttled with the
seconds until the oldest failure leaves the window. The web UI's session cookie
carries the same kind of token.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from duban.engine.access import accounts
from duban.engine.access.actors import ACCOUNT_UNIT, ACTOR_COLUMNS, Actor, actor_from
from duban.engine.errors import Throttled, Unauthenticated
from duban.engine.store.models import Account, ApiToken, LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
# A hash to verify against when the account does not exist, so timing does not tell.
_DUMMY_HASH = accounts.hash_password("not-a-real-password")


@dataclass(frozen=True)
class IssuedToken:
    """A new bearer token: the secret itself is only ever in this object and the reply."""

    token: str
    expires_at: datetime
    expires_in: int
    account: str


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _retry_after(session: Session, now: datetime, condition: object, limit: int) -> int | None:
    since = now - WINDOW
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(condition, LoginAttempt.ok.is_(False), LoginAttempt.at > since)  # type: ignore[arg-type]
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return None
    oldest = failures[-1]
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))


def check_throttle(session: Session, now: datetime, account_name: str, address: str) -> None:
    """Refuse (Throttled) when the account or the address failed too often lately."""
    waits = [
        _retry_after(session, now, LoginAttempt.account_name == account_name[:64], MAX_FAILURES_PER_ACCOUNT),
        _retry_after(session, now, LoginAttempt.address == address[:64], MAX_FAILURES_PER_ADDRESS),
    ]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise Throttled(f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait)


def sign_in(
    session: Session, now: datetime, account_name: str, password: str, address: str, minutes: int
) -> IssuedToken | None:
    """Check the password and issue a token; None on a wrong name or password (the attempt is recorded).

    Throttled is raised before anything is checked or written. The caller commits
    the session also when None comes back, so the failure counts.
    """
    check_throttle(session, now, account_name, address)
    account = session.scalars(select(Account).where(Account.name == account_name)).first()
    ok = accounts.verify_password(account.password_hash if account else _DUMMY_HASH, password)
    ok = ok and account is not None and account.active
    session.add(LoginAttempt(account_name=account_name[:64], address=address[:64], at=now, ok=ok))
    if not ok or account is None:
        session.flush()
        return None
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(minutes=minutes)
    session.add(
        ApiToken(account_id=account.id, token_hash=token_hash(token), created_at=now, expires_at=expires_at)
    )
    session.flush()
    return IssuedToken(token, expires_at, minutes * 60, account.name)


_tokens = ApiToken.__table__
# Every authenticated request runs this: one Core statement, built once, reads the token with its
# account and unit (no ORM objects, no statement construction per request).
_TOKEN_ACTOR = (
    select(_tokens.c.revoked_at, _tokens.c.expires_at, *ACTOR_COLUMNS)
    .select_from(_tokens.join(ACCOUNT_UNIT, Account.__table__.c.id == _tokens.c.account_id))
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)


def verify_token(session: Session, now: datetime, token: str | None) -> Actor:
    """The actor behind a live token, or Unauthenticated."""
    if not token:
        raise Unauthenticated("sign in first: no bearer token was given")
    row = session.execute(_TOKEN_ACTOR, {"token_hash": token_hash(token)}).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("the token is unknown, expired or revoked; sign in again")
    if not row.active:
        raise Unauthenticated("the account behind this token is no longer active")
    return actor_from(row)


def revoke_token(session: Session, now: datetime, token: str) -> bool:
    """Revoke one token (sign out); whether a live token was revoked."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def revoke_all(session: Session, now: datetime, account_name: str) -> int:
    """Revoke every live token of an account (after a password change)."""
    account_id = session.scalar(select(Account.id).where(Account.name == account_name))
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def failures_since(session: Session, since: datetime, account_name: str) -> int:
    """How many failed sign-ins an account name had since `since` (for tests and the operator)."""
    return (
        session.scalar(
            select(func.count()).where(
                LoginAttempt.account_name == account_name, LoginAttempt.ok.is_(False), LoginAttempt.at > since
            )
        )
        or 0
    )
