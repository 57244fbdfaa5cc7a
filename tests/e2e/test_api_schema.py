"""Schemathesis over the OpenAPI document: generated requests (valid and invalid) against the ASGI app.

No response may be a server error or break the documented schema, status codes
and content types. Kept bounded: a few examples per operation. Sign-out and the
password change are left out (they would end the test's own session); they have
their own tests in test_api_auth.py. The "schema-valid data is accepted" check is
off: the engine refuses schema-valid input that breaks a business rule (a form
field a definition requires, a past due date) with 422 and says why, on purpose.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from conftest import World, sign_in
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from duban.engine.access.actors import actor_for
from duban.engine.store.db import write_session
from duban.engine.work import fanout


def test_api_conforms_to_its_schema(world: World, app: Any, client: Any) -> None:
    with write_session(world.db) as s:  # some tasks to find
        fanout.assign_definition(s, world.rt, actor_for(s, "k01-admin"), "matrix-check", "K01")
    headers = sign_in(client, "k01-admin")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path_regex=r"^/api/v1/auth/(logout|password)$"
    )
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 25
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
