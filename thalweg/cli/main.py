"""Running the command line: exit codes and the one-line error policy.

=====  ==================================================================================
exit   meaning
=====  ==================================================================================
0      done
2      a mistake the user can fix (bad file, missing column, bad option value): ONE line
       on standard error naming the problem and the fix, no traceback
1      a bug in thalweg: the traceback, so it can be reported
130    interrupted (Ctrl-C); training saves a checkpoint first and says how to resume
=====  ==================================================================================

Typer parses the options; its own usage errors (an unknown option, a value that is not
one of the choices) are caught here too and printed as one line instead of Click's
multi-line box. Library messages name parameters (``missing='mean'``); they are printed
with the command line's flags (``--missing mean``, see :mod:`thalweg.cli.flags`).
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import typer

from thalweg.cli.flags import as_flags
from thalweg.errors import ThalwegError

# Click's usage errors, as Typer raises them (recent Typer vendors its own Click): found
# through Typer's public BadParameter, whose ancestors they are.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

EXIT_OK, EXIT_BUG, EXIT_USER_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

# The arguments of the running command, so it can print how to run it again (--resume).
_ARGUMENTS: ContextVar[tuple[str, ...]] = ContextVar("thalweg_arguments", default=())


def invocation() -> tuple[str, ...]:
    """The arguments ``thalweg`` was run with (without the program name)."""
    return _ARGUMENTS.get()


class UserError(ThalwegError, ValueError):
    """A mistake on the command line that thalweg's library layers cannot see (an option
    combination that makes no sense, an output path that cannot be written)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``thalweg`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    >>> main(["datasets", "--json"])  # doctest: +SKIP
    0
    """
    from thalweg.cli.app import build_app
    from thalweg.cli.recording import record_runs

    app = build_app()
    record_runs(app)  # train, evaluate, train-*: each records a run (thalweg runs)
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    token = _ARGUMENTS.set(tuple(args))
    try:
        return _run(command, args)
    finally:
        _ARGUMENTS.reset(token)


def _run(command, args: list[str]) -> int:
    with _one_line_warnings():
        try:
            result = command.main(args=args, prog_name="thalweg", standalone_mode=False)
        except UsageError as error:
            if type(error).__name__ == "NoArgsIsHelpError":
                return EXIT_OK  # plain `thalweg`: the help was the answer
            where = error.ctx.command_path if error.ctx is not None else "thalweg"
            _say(f"error: {_one_line(error.format_message())} (see '{where} --help')")
            return EXIT_USER_ERROR
        except ClickException as error:
            _say(f"error: {_one_line(error.format_message())}")
            return EXIT_USER_ERROR
        except ThalwegError as error:
            _say(f"error: {_one_line(str(error))}")
            return EXIT_USER_ERROR
        except (KeyboardInterrupt, typer.Abort):
            _say("interrupted; a file being written when it happened was left unchanged")
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # e.g. `thalweg predict ... | head`: the reader left
            sys.stderr.close()
            return EXIT_BUG
        except Exception:
            traceback.print_exc()
            _say("this is a bug in thalweg: please report it with the traceback above")
            return EXIT_BUG
    return result if isinstance(result, int) else EXIT_OK


def _one_line(message: str) -> str:
    # Typer words a bad choice as "Value error, 'x' is not one of ..."; keep the second half.
    return as_flags(" ".join(message.replace("Value error, ", "").split()))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _one_line_warnings():
    """Show warnings as ``warning: message`` lines (not Python's two-line format)."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        _say(f"warning: {_one_line(str(message))}")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
