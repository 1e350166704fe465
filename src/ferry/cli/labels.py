"""Plain option labels in `--help` (`TEXT`, `INTEGER`, `FILE`, nothing for a flag) instead of Typer's type names
(`<str>`, `<bool>`, `<list[str]>`), for every command of the app, including ones added later."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

# Contexts, parameters and commands are typed Any: Typer vendors its own copy of click, whose classes are private.

_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "int range": "INTEGER", "float range": "NUMBER",
           "file": "FILE", "path": "PATH", "directory": "FOLDER", "datetime": "DATETIME"}


def _type_label(param: TyperOption, ctx: Any) -> str:
    """`<list[str]>` → `TEXT`, `<int range>` → `INTEGER`, `<xml|json>` → `xml|json`."""
    label = param.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return _LABELS.get(label, label if "|" in label else label.upper())


class PlainOption(TyperOption):
    """An option showing its metavar, else a plain type label; a flag shows none."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        if self.is_flag or self.count:
            return None
        return _type_label(self, ctx)


class PlainArgument(TyperArgument):
    """An argument named in capitals (`LOGIN`), with no type beside it and no braces in the usage line."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")


def _relabel(param: Any) -> None:
    if isinstance(param, TyperOption) and not isinstance(param, PlainOption):
        param.__class__ = PlainOption
    elif isinstance(param, TyperArgument) and not isinstance(param, PlainArgument):
        param.__class__ = PlainArgument
        if param.metavar is None and param.name:
            param.metavar = param.name.upper()


def _relabelled(params: list[Any]) -> list[Any]:
    for param in params:
        _relabel(param)
    return params


def _plain(command: Any) -> None:
    """Relabel a command's parameters whenever they are listed, those Typer adds late (--help) included."""
    listed = command.get_params
    command.get_params = lambda ctx: _relabelled(listed(ctx))
    for sub in getattr(command, "commands", {}).values():
        _plain(sub)


class PlainLabelsGroup(TyperGroup):
    """The root group: Typer builds every sub-command before it, so the whole tree is relabelled here once."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _plain(self)
