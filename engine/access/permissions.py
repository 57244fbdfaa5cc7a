"""Who may see and do what: every service asks here, no route or command decides on its own.

The rules follow the tree. An account sees its own unit's subtree and nothing else;
what lies outside answers "not found", never "forbidden", so nobody learns what
another city holds. Inside, the role decides:

- admin: assigns, approves, extends, waives and urges within its subtree;
- staff: does its own unit's tasks (submits evidence, reports progress);
- viewer: reads.

Nobody approves their own submission; approval belongs to the admins of the unit the
chain names at that step; waiving belongs to the issuer (or a unit above it).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true

from duban.engine.access.actors import Actor
from duban.engine.errors import Forbidden, NotFound, NotInScope
from duban.engine.store import paths
from duban.engine.store.models import Role


def sees(actor: Actor, unit_path: str) -> bool:
    """Whether the unit at `unit_path` lies in the actor's subtree."""
    return actor.is_operator or unit_path.startswith(actor.unit_path)


def visible_scope(actor: Actor, scope_path: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL condition: an assignment scope inside the actor's subtree, or one that covers the actor's unit."""
    if actor.is_operator:
        return true()
    covering = [actor.unit_path[:i] for i in range(paths.SEGMENT, len(actor.unit_path) + 1, paths.SEGMENT)]
    return or_(paths.in_subtree(actor.unit_path, scope_path), scope_path.in_(covering))


def require_sees(actor: Actor, unit_path: str, unit_code: str) -> None:
    """Refuse, as "not found", a unit outside the actor's subtree."""
    if not sees(actor, unit_path):
        raise NotInScope(unit_code)


def require_task_visible(actor: Actor, unit_path: str, task_id: int) -> None:
    """Refuse, as "not found", a task of a unit outside the actor's subtree."""
    if not sees(actor, unit_path):
        raise NotFound(f"task {task_id} not found")


def _admin(actor: Actor, what: str) -> None:
    if actor.is_operator:
        return
    if actor.role != Role.admin:
        raise Forbidden(f"only an admin may {what}")


def can_assign(actor: Actor, scope_path: str, scope_code: str) -> None:
    """An admin assigns within its own subtree."""
    require_sees(actor, scope_path, scope_code)
    _admin(actor, "assign work")


def can_act_on_own_task(actor: Actor, task_unit_id: int, task_unit_path: str, task_id: int) -> None:
    """Submitting evidence or progress: staff or admin of the task's own unit."""
    require_task_visible(actor, task_unit_path, task_id)
    if actor.is_operator:
        return
    if actor.unit_id != task_unit_id:
        raise Forbidden("only the task's own unit submits its work")
    if actor.role not in (Role.admin, Role.staff):
        raise Forbidden("a viewer cannot submit work")


def can_approve(
    actor: Actor, task_unit_path: str, task_id: int, approver_unit_id: int, submitted_by: str | None
) -> None:
    """Approving or rejecting: an admin of the unit this approval step names, not the submitter."""
    require_task_visible(actor, task_unit_path, task_id)
    if submitted_by is not None and actor.name == submitted_by:
        raise Forbidden("nobody approves their own submission")
    if actor.is_operator:
        return
    _admin(actor, "approve")
    if actor.unit_id != approver_unit_id:
        raise Forbidden("this approval step belongs to another unit")


def can_supervise(actor: Actor, task_unit_id: int, task_unit_path: str, task_id: int, what: str) -> None:
    """Extending or urging: an admin of a unit above the task's unit."""
    require_task_visible(actor, task_unit_path, task_id)
    if actor.is_operator:
        return
    _admin(actor, what)
    if actor.unit_id == task_unit_id:
        raise Forbidden(f"a unit cannot {what} its own task; the level above does")


def can_waive(actor: Actor, task_unit_path: str, task_id: int, issuer_path: str) -> None:
    """Waiving: an admin of the issuing unit, or of a unit above it."""
    require_task_visible(actor, task_unit_path, task_id)
    if actor.is_operator:
        return
    _admin(actor, "waive a task")
    if not issuer_path.startswith(actor.unit_path):
        raise Forbidden("only the issuer waives a task")


def can_split_target(actor: Actor, unit_path: str, unit_code: str) -> None:
    """Splitting a target: an admin of the unit that holds it, or above."""
    require_sees(actor, unit_path, unit_code)
    _admin(actor, "split a target")


def can_withdraw(actor: Actor, issuer_path: str, assignment_id: int) -> None:
    """Withdrawing an assignment: an admin of the issuer, or above."""
    if actor.is_operator:
        return
    if not issuer_path.startswith(actor.unit_path):
        raise NotFound(f"assignment {assignment_id} not found")
    _admin(actor, "withdraw an assignment")


def can_post_event(actor: Actor, unit_path: str, unit_code: str) -> None:
    """Posting an event about a unit: admin or staff within the subtree."""
    require_sees(actor, unit_path, unit_code)
    if not actor.is_operator and actor.role == Role.viewer:
        raise Forbidden("a viewer cannot post events")


def can_import_units(actor: Actor) -> None:
    """Importing units reshapes the tree: an admin (or the operator), within its own subtree.

    The import checks each row against the actor's subtree (a unit outside it, a parent outside
    it, a new top-level union are refused row by row), so this rule only asks for the role.
    """
    _admin(actor, "import units")


def can_manage_account(actor: Actor, account_unit_path: str, account_name: str) -> None:
    """Disabling, enabling, resetting a password: an admin whose subtree holds the account (the operator too)."""
    if not sees(actor, account_unit_path):
        raise NotFound(f"account {account_name} not found")
    _admin(actor, "manage accounts")
    if actor.name == account_name:
        raise Forbidden("an admin does not disable or reset their own account; the level above does")


def can_upload_definitions(actor: Actor) -> None:
    """Writing definitions at all: an admin (the operator too); each one is then checked by its owner."""
    _admin(actor, "upload definitions")


def can_load_schemes(actor: Actor) -> None:
    """Scoring schemes are loaded by the operator (like the seed plan) or an admin."""
    _admin(actor, "load scoring schemes")


def can_assess(actor: Actor, unit_path: str, unit_code: str) -> None:
    """Closing, reopening and giving bonus points: an admin of the assessing union or a union above it."""
    require_sees(actor, unit_path, unit_code)
    _admin(actor, "close, reopen or add points to an assessment")
    if not actor.is_operator and not unit_path.startswith(actor.unit_path):
        raise Forbidden("only the assessing union or a union above it may change its assessment")


def can_award_bonus(actor: Actor, assessor_path: str, unit_path: str, unit_code: str) -> None:
    """A bonus goes to a unit strictly below the assessing union, given by that union's admins or above."""
    require_sees(actor, unit_path, unit_code)
    _admin(actor, "give bonus points")
    if not unit_path.startswith(assessor_path) or unit_path == assessor_path:
        raise Forbidden(f"{unit_code} is not assessed by this union")


def can_score_quality(actor: Actor, approved_by: str | None, task_id: int) -> None:
    """Quality is scored by the one who gave the final approval (or the operator)."""
    if actor.is_operator:
        return
    if approved_by != actor.name:
        raise Forbidden(f"only the approver of task {task_id} scores its quality")


def can_publish_definition(actor: Actor, def_id: str, owner_path: str | None) -> None:
    """A new version of a definition: an admin of the union that owns it, or of a union above it.

    A definition stored before owners were kept (`owner_path` None) is the root's: the operator's
    or a top-level union's. Otherwise a grassroots admin could rewrite a city's item (drop its
    approval step) and every county assigning it would get the rewritten one.
    """
    if actor.is_operator:
        return
    _admin(actor, "publish definitions")
    if owner_path is None:
        if len(actor.unit_path) != paths.SEGMENT:
            raise Forbidden(
                f"definition {def_id} belongs to the top-level union; only its admins publish a new version"
            )
        return
    if not owner_path.startswith(actor.unit_path):
        # The owner lies outside the actor's subtree: it is not named.
        raise Forbidden(
            f"definition {def_id} belongs to the union that published it; only an admin of that union "
            "or of one above it publishes a new version"
        )
