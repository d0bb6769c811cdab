"""How `--help` reads on any terminal: prose wrapped once, examples whole, no type placeholders.

Docstrings are wrapped at 100 columns in the source. Typer keeps their line breaks, so a
terminal of another width wraps them a second time and leaves fragments on lines of their own.
`ArcbenchTyper` builds every command and group with classes that join each prose paragraph
into one line before Rich wraps it, keep indented paragraphs (the examples) line for line, and
show no `<bool>` beside a flag, no `<list[Path]>` beside an argument and no `{runs}...` in the
usage line: an argument is shown by its metavar (`RUN...`), an option by its own (`--dataset
SPEC`), a flag by its name alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])


def reflow(help_text: str | None) -> str | None:
    """Each paragraph of prose on one line; a paragraph with indented lines (an example) as it
    is."""
    if not help_text:
        return help_text
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return "\n\n".join(
        paragraph
        if any(line[:1].isspace() for line in paragraph.splitlines())
        else " ".join(line.strip() for line in paragraph.splitlines())
        for paragraph in paragraphs
    )


class _Argument(TyperArgument):
    """An argument shown by its metavar alone: `RUN...` in the usage line and the panel."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        if self.nargs != 1 and not name.endswith("..."):
            name += "..."
        return [name if self.required else f"[{name}]"]


class _Flag(TyperOption):
    """An option without a value: its name says it all."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _tidy(command: Any) -> None:
    command.help = reflow(command.help)
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument  # the same object, shown differently
        elif getattr(param, "is_flag", False):
            _flag(param)


def _flag(option: Any) -> Any:
    if type(option) is TyperOption:
        option.__class__ = _Flag
    return option


class ArcbenchCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self)

    def get_help_option(self, ctx: Any) -> Any:
        return _flag(super().get_help_option(ctx))


class ArcbenchGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self)

    def get_help_option(self, ctx: Any) -> Any:
        return _flag(super().get_help_option(ctx))


class ArcbenchTyper(typer.Typer):
    """A Typer app whose groups and commands are `ArcbenchGroup` and `ArcbenchCommand`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", ArcbenchGroup)
        super().__init__(**kwargs)

    def command(
        self, name: str | None = None, **kwargs: Any
    ) -> Callable[[CommandFunction], CommandFunction]:
        kwargs.setdefault("cls", ArcbenchCommand)
        return super().command(name, **kwargs)
