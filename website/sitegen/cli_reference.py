"""The CLI reference page, generated from the click command tree of ``interlace``.

It walks :data:`interlace_cli.main.cli` the way click itself does (``list_commands`` /
``get_command``), so the commands that installed distributions add through ``interlace.hooks``
(``serve``, ``apikey``, ...) are listed beside the built-in ones, each with its usage, help,
arguments and options.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from collections.abc import Iterator

INTRO = """\
# CLI reference

Every command of `interlace` with its arguments and options, generated from the installed
command when this site was built; commands that other distributions add (through the
`interlace.hooks` entry point) are included and say so. The [command line guide](../cli.md)
explains what the commands are for, with examples.
"""


def cli_reference() -> str:
    """The page (Markdown)."""
    from interlace_cli.main import cli

    builtin = set(cli.commands)
    root = click.Context(cli, info_name="interlace")
    parts = [INTRO]
    parts += _command(cli, root, level=2, builtin=builtin, is_root=True)
    return "\n".join(parts)


def _command(
    command: click.Command,
    ctx: click.Context,
    *,
    level: int,
    builtin: set[str],
    is_root: bool = False,
) -> list[str]:
    path = ctx.command_path
    out = [f"{'#' * level} `{path}`", ""]
    if not is_root and level == 2 and command.name not in builtin:
        out += [
            '!!! note "Added by an installed distribution"',
            f"    `{path}` comes from an `interlace.hooks` entry point ({_distribution(command)}).",
            "",
        ]
    if command.deprecated:
        out += ['!!! warning "Deprecated"', ""]
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    out += ["```", usage, "```", ""]
    out += [_help_text(command.help or command.short_help or ""), ""]
    arguments = [p for p in command.get_params(ctx) if isinstance(p, click.Argument)]
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    if arguments:
        out += ["| Argument | Type | Required |", "|---|---|---|"]
        for arg in arguments:
            nargs = " (repeatable)" if arg.nargs == -1 else ""
            out.append(
                f"| `{arg.human_readable_name}`{nargs} | {_type(arg, ctx)} | "
                f"{'yes' if arg.required else 'no'} |"
            )
        out.append("")
    if options:
        out += ["| Option | Type | Default | Meaning |", "|---|---|---|---|"]
        for opt in options:
            out.append(
                f"| {_names(opt)} | {_type(opt, ctx)} | {_default(opt, ctx)} | "
                f"{_cell(opt.help or '')} |"
            )
        out.append("")
    if isinstance(command, click.Group):
        subcommands = list(_subcommands(command, ctx))
        if subcommands:
            out += ["| Command | What it does |", "|---|---|"]
            for name, sub in subcommands:
                anchor = _anchor(f"{path} {name}")
                out.append(f"| [`{name}`](#{anchor}) | {_cell(sub.get_short_help_str(120))} |")
            out.append("")
        for name, sub in subcommands:
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            out += _command(
                sub, sub_ctx, level=min(level + (0 if is_root else 1), 6), builtin=builtin
            )
    return out


def _subcommands(group: click.Group, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            yield name, sub


def _distribution(command: click.Command) -> str:
    """Which distribution defines ``command`` (from its callback's module)."""
    from sitegen.distributions import distribution_of

    module = inspect.getmodule(command.callback) if command.callback else None
    return f"`{distribution_of(module.__name__)}`" if module else "an extension"


def _help_text(text: str) -> str:
    """Click help as Markdown: paragraphs stay paragraphs, ``\\b`` blocks stay as written."""
    text = inspect.cleandoc(text).split("\f")[0]
    blocks = []
    for block in text.split("\n\n"):
        if block.startswith("\b\n"):
            blocks.append("```\n" + block[2:] + "\n```")
        else:
            blocks.append(_escape(" ".join(line.strip() for line in block.splitlines())))
    return "\n\n".join(blocks)


def _names(opt: click.Option) -> str:
    names = [f"`{n}`" for n in opt.opts]
    names += [f"`{n}`" for n in opt.secondary_opts]
    return ", ".join(names)


def _type(param: click.Parameter, ctx: click.Context) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    kind = param.type
    if isinstance(kind, click.Choice):
        return " \\| ".join(f"`{c}`" for c in kind.choices)
    metavar = kind.get_metavar(param, ctx) if hasattr(kind, "get_metavar") else None
    name = metavar or kind.name.upper()
    multiple = isinstance(param, click.Option) and param.multiple
    return _cell(name) + (" (repeatable)" if multiple else "")


def _default(opt: click.Option, ctx: click.Context) -> str:
    if opt.is_flag and not opt.secondary_opts:
        return ""
    default = opt.get_default(ctx, call=False)
    if default is None or default == () or callable(default) or _unset(default):
        return ""
    if isinstance(opt.show_default, str):
        return _cell(opt.show_default)
    if isinstance(default, bool):
        return f"`{opt.opts[0] if default else (opt.secondary_opts or ['off'])[0]}`"
    return f"`{default}`"


def _unset(value: object) -> bool:
    """Click's "no default" marker (an enum member ``Sentinel.UNSET`` in click 8.3+)."""
    return type(value).__name__ == "Sentinel"


def _cell(text: str) -> str:
    return _escape(" ".join(str(text).split())).replace("|", "\\|")


def _escape(text: str) -> str:
    """Markdown that reads like the help: ``*`` and ``_`` are literal, ``<X>`` is text."""
    return text.replace("<", "&lt;").replace("*", "\\*")


def _anchor(title: str) -> str:
    """The id the site gives a heading ``title`` (its code span's tags are dropped)."""
    from pymdownx.slugs import slugify  # as mkdocs.yml configures the toc extension

    return str(slugify(case="lower")(title, "-"))
