"""Who sees and starts which workflow: an operator, the workflows that run as an operator whose rights it holds
(`ferry.auth.rights.holds_rights_of`); an admin, every one. A workflow another operator may not see is answered as
unknown (its name is not confirmed)."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.auth import Operator, rights
from ferry.errors import FerryError
from ferry.workflows import definitions
from ferry.workflows.definitions import Workflow


def _operators(pool: ConnectionPool) -> dict[str, Operator]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT id, login, admin, schemas, disabled, read_schemas FROM ferry.operators").fetchall()
    return {login: Operator(int(id_), login, bool(admin), frozenset(schemas or ()), bool(disabled),
                            frozenset(reads or ())) for id_, login, admin, schemas, disabled, reads in rows}


def may_use(holder: Operator, workflow: Workflow, operators: dict[str, Operator]) -> bool:
    """True when `holder` may see and start `workflow` (an operator gone since: admins only)."""
    if holder.admin and not holder.disabled:
        return True
    if workflow.operator_login is None:
        return False
    runner = operators.get(workflow.operator_login)
    return runner is not None and rights.holds_rights_of(holder, runner)


def visible(pool: ConnectionPool, holder: Operator) -> list[Workflow]:
    """The workflows `holder` may see, by name."""
    operators = _operators(pool)
    return [w for w in definitions.list_all(pool) if may_use(holder, w, operators)]


def get_visible(pool: ConnectionPool, holder: Operator, name: str) -> Workflow:
    """The workflow `name` if `holder` may see it; FRY-140001 otherwise (whether or not it exists)."""
    try:
        workflow = definitions.get(pool, name)
    except FerryError:
        workflow = None
    if workflow is None or not may_use(holder, workflow, _operators(pool)):
        raise FerryError(errors.WORKFLOW_UNKNOWN, f"no workflow named {name!r} visible to operator {holder.login!r}")
    return workflow
