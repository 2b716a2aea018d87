"""One line on stderr for every way a command can fail on its input or its surroundings.

Click's usage errors print a usage line, a hint and a blank line before ``Error: ...``; this
module's :class:`OneLineErrors` group prints only ``Error: <message> (see '<command> --help')``.
It also turns the project's :class:`VBenchError` (exit 2), an OSError that escaped (a file that
vanished, a full disk: exit 2), running out of memory (exit 2) and Ctrl-C (exit 130) into one
line. Programming errors still show their traceback; ``VBENCH_DEBUG=1`` shows it for all of the
above too.
"""

from __future__ import annotations

import os
import sys

import click

from vbench_i2v.errors import VBenchError
from vbench_i2v.files import os_reason

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces (a message must fit one stderr line)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def error_line(exc: BaseException) -> str:
    """The ``Error: ...`` line for an exception :class:`OneLineErrors` handles."""
    if isinstance(exc, click.UsageError):
        line = f"Error: {one_line(exc.format_message())}"
        ctx = exc.ctx
        if ctx is not None:
            help_opt = (ctx.help_option_names or ["--help"])[0]
            line += f" (see '{ctx.command_path} {help_opt}')"
        return line
    if isinstance(exc, click.ClickException):
        return f"Error: {one_line(exc.format_message())}"
    if isinstance(exc, VBenchError):
        return f"Error: {one_line(exc)}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"Error: {where}{os_reason(exc)}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        gpu = type(exc).__name__ == "OutOfMemoryError"
        return (f"Error: out of {'GPU ' if gpu else ''}memory "
                "(try a smaller --batch-size, or fewer videos)")
    return f"Error: {one_line(exc) or type(exc).__name__}"


def _handled(exc: BaseException) -> bool:
    return (isinstance(exc, (click.ClickException, VBenchError, OSError, MemoryError))
            or type(exc).__name__ == "OutOfMemoryError")


class OneLineErrors(click.Group):
    """A click group whose failures reach the user as one ``Error:`` line (see the module doc)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        debug = os.environ.get("VBENCH_DEBUG", "") not in ("", "0")
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Error: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException as exc:  # usage errors exit 2, like click's own
            click.echo(error_line(exc), err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:
            if debug or not _handled(exc):
                raise
            click.echo(error_line(exc), err=True)
            sys.exit(EXIT_ERROR)
        # Without standalone mode click returns --help/--version's exit code instead of exiting.
        sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)
