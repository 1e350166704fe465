"""`ferry operator add|list|disable`: who may call ferry, and on which schemas."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from ferry.auth import Authenticator
from ferry.cli.common import AsJson, DataDir, console, fail, open_staging, print_json, settings_for, show, table
from ferry.errors import FerryError

_T = TypeVar("_T")

operator_app = typer.Typer(help="Add, list, disable, enable operators and change their passwords.",
                           no_args_is_help=True)


def _with_operators(data_dir: Path | None, action: Callable[[Authenticator], _T]) -> _T:
    """`action` on the operators of the data folder's staging; a refusal ends the command with its code."""
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        try:
            return action(Authenticator(db.pool, settings))
        except FerryError as exc:
            fail(exc)


def _read_password(from_stdin: bool) -> str:
    given = os.environ.get("FERRY_OPERATOR_PASSWORD")
    if given:
        return given
    # A script piping the password in has no terminal to prompt on.
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@operator_app.command("add")
def add(
    login: Annotated[str, typer.Argument(help="The operator's login.")],
    admin: Annotated[bool, typer.Option("--admin", help="Grant every right (ingest anywhere, see all requests).")]
    = False,
    schema: Annotated[list[str] | None, typer.Option("--schema", help="A staged schema (ns:name) this operator may "
                                                     "ingest into; repeat for several.")] = None,
    read: Annotated[list[str] | None, typer.Option("--read", help="A schema (ns:name) this operator may only read "
                                                   "(queries, subscribers, history); repeat for several.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line "
                                                 "of standard input instead of prompting.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an operator with a password and its rights.

    The password comes from FERRY_OPERATOR_PASSWORD, else standard input when it is not a terminal, else a prompt.
    """
    password = _read_password(password_stdin)
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        try:
            operator = Authenticator(db.pool, settings).add_operator(login, password, admin=admin,
                                                                     schemas=schema or (), read_schemas=read or ())
        except FerryError as exc:
            fail(exc)
    reads = [f"{name} (read)" for name in sorted(operator.read_schemas)]
    rights = "admin" if operator.admin else ", ".join([*sorted(operator.schemas), *reads]) or "no schema yet"
    console.print(f"operator [bold]{operator.login}[/] created ({rights})")


@operator_app.command("list")
def list_(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List operators and their rights."""
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        operators = Authenticator(db.pool, settings).list_operators()
    if as_json:
        print_json([{"login": o.login, "admin": o.admin, "schemas": sorted(o.schemas), "disabled": o.disabled}
                    for o in operators])
        return
    listing = table("login", "admin", "schemas", "state")
    for operator in operators:
        listing.add_row(operator.login, "yes" if operator.admin else "", ", ".join(sorted(operator.schemas)),
                        "disabled" if operator.disabled else "enabled")
    show(listing)


@operator_app.command("disable")
def disable(
    login: Annotated[str, typer.Argument(help="The operator to disable.")],
    data_dir: DataDir = None,
) -> None:
    """Disable an operator: its logons are refused and its open sessions revoked."""
    _with_operators(data_dir, lambda auth: auth.disable(login))
    console.print(f"operator [bold]{login}[/] disabled")


@operator_app.command("unlock")
def unlock(
    login: Annotated[str, typer.Argument(help="The login locked by failed logons.")],
    data_dir: DataDir = None,
) -> None:
    """Clear a login's failed logons and lock now (it also unlocks by itself once its delay has passed)."""
    cleared = _with_operators(data_dir, lambda auth: auth.unlock(login))
    console.print(f"operator [bold]{login}[/] unlocked" if cleared else f"{login} was not locked")


@operator_app.command("passwd")
def passwd(
    login: Annotated[str, typer.Argument(help="The operator whose password changes.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the new password from the first "
                                                 "line of standard input instead of prompting.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Change an operator's password; its open sessions are revoked.

    The password comes from FERRY_OPERATOR_PASSWORD, else standard input when it is not a terminal, else a prompt.
    """
    password = _read_password(password_stdin)
    _with_operators(data_dir, lambda auth: auth.set_password(login, password))
    console.print(f"password of operator [bold]{login}[/] changed; its open sessions are closed")


@operator_app.command("enable")
def enable(
    login: Annotated[str, typer.Argument(help="The operator to enable again.")],
    data_dir: DataDir = None,
) -> None:
    """Enable a disabled operator: it may log on again (with its current password)."""
    _with_operators(data_dir, lambda auth: auth.enable(login))
    console.print(f"operator [bold]{login}[/] enabled")


def register(app: typer.Typer) -> None:
    """Attach `ferry operator` to `app`."""
    app.add_typer(operator_app, name="operator")
