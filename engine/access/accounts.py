"""Accounts and their passwords (argon2id, via argon2-cffi)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.engine.access.actors import Actor
from duban.engine.errors import Conflict, InvalidInput, NotFound, Problem
from duban.engine.store import audit
from duban.engine.store.models import Account, Role, Unit

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}")
MIN_PASSWORD = 8
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> None:
    """Refuse a password too weak to keep."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput([Problem("password", "password", f"at least {MIN_PASSWORD} characters")])


@dataclass(frozen=True)
class NewPassword:
    """A checked password, hashed before any write transaction opens (hashing takes ~0.5 s by design,
    and on SQLite a transaction holding that long keeps every other writer waiting)."""

    hash: str

    @classmethod
    def of(cls, password: str) -> NewPassword:
        check_password(password)
        return cls(hash_password(password))


def hashed(password: str | NewPassword) -> str:
    """The hash to store: made here only for a caller that did not prepare it outside its transaction."""
    return (password if isinstance(password, NewPassword) else NewPassword.of(password)).hash


def add_account(
    session: Session,
    now: datetime,
    actor: Actor,
    name: str,
    unit_code: str,
    role: str,
    password: str | NewPassword,
    email: str | None = None,
) -> Account:
    """Create an account in a unit with a role."""
    problems = []
    if not NAME.fullmatch(name):
        problems.append(Problem("account", "name", f"{name!r}: 2-64 letters, digits and . _ @ -"))
    if role not in Role.__members__:
        problems.append(Problem("account", "role", f"{role!r} is not one of admin, staff, viewer"))
    if problems:
        raise InvalidInput(problems)
    password_hash = hashed(password)
    unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
    if unit is None:
        raise NotFound(f"unit {unit_code} not found")
    if session.scalars(select(Account).where(Account.name == name)).first():
        raise Conflict(f"account {name} exists already")
    account = Account(
        name=name,
        unit_id=unit.id,
        role=role,
        password_hash=password_hash,
        email=email,
        created_at=now,
    )
    session.add(account)
    session.flush()
    audit.record(
        session, now, actor.name, "account.added", unit_id=unit.id, payload={"account": name, "role": role}
    )
    return account


def store_password(session: Session, now: datetime, account_name: str, password_hash: str) -> None:
    """Store a new password hash (made outside the transaction: hashing takes a while)."""
    account = session.scalars(select(Account).where(Account.name == account_name)).one()
    account.password_hash = password_hash
    session.add(account)
    audit.record(session, now, account_name, "account.password_changed", unit_id=account.unit_id)
