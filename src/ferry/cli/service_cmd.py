"""`ferry service add NAME`, `ferry service list`, `ferry service disable|enable NAME`: information services."""

from __future__ import annotations

from typing import Annotated

import typer

from ferry.cli.common import AsJson, DataDir, console, fail, open_staging, print_json, settings_for, show, table
from ferry.errors import FerryError
from ferry.subscriptions import services

service_app = typer.Typer(help="Information services (newsletters) people subscribe to.", no_args_is_help=True)


@service_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Internal name (unique), e.g. newsletter.")],
    label: Annotated[str, typer.Option("--label", help="Label shown to people.")] = "",
    channel: Annotated[str, typer.Option("--channel", help="email, sms, phone, mail or fax.")] = "email",
    validity_days: Annotated[int | None, typer.Option("--validity-days", help="Subscriptions expire after this "
                                                      "many days (default: never).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a service."""
    with open_staging(settings_for(data_dir)) as db:
        try:
            service = services.add(db.pool, name, label=label, channel=channel, validity_days=validity_days)
        except FerryError as exc:
            fail(exc)
    console.print(f"service {service.name} added ({service.channel_name})")


@service_app.command("list")
def list_services(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List the services."""
    with open_staging(settings_for(data_dir)) as db:
        found = services.all_services(db.pool)
    if as_json:
        print_json([s.to_dict() for s in found])  # as REST shows them
        return
    listing = table("name", "label", "channel", "validity (days)", "disabled")
    for s in found:
        listing.add_row(s.name, s.label, s.channel_name, "" if s.validity_days is None else str(s.validity_days),
                        "yes" if s.disabled else "")
    show(listing)


@service_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="Internal name of the service.")],
    data_dir: DataDir = None,
) -> None:
    """Disable a service: new subscriptions to it are refused (unsubscriptions still pass)."""
    with open_staging(settings_for(data_dir)) as db:
        try:
            services.set_disabled(db.pool, name, True)
        except FerryError as exc:
            fail(exc)
    console.print(f"service {name} disabled")


@service_app.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="Internal name of the service.")],
    data_dir: DataDir = None,
) -> None:
    """Enable a disabled service again: it takes new subscriptions."""
    with open_staging(settings_for(data_dir)) as db:
        try:
            services.set_disabled(db.pool, name, False)
        except FerryError as exc:
            fail(exc)
    console.print(f"service {name} enabled")


def register(app: typer.Typer) -> None:
    """Add `ferry service …` to the CLI."""
    app.add_typer(service_app, name="service")
