"""Running the command line: exit codes and the one-line error policy.

=====  ==================================================================================
exit   meaning
=====  ==================================================================================
0      done
2      a mistake the user can fix (bad file, missing column, bad option value): ONE line
       on standard error naming the problem and the fix, no traceback
1      a bug in thalweg: the traceback, so it can be reported
130    interrupted (Ctrl-C); training saves a checkpoint first and says how to resume
143    stopped by SIGTERM (``kill``), 129 by SIGHUP (the terminal closed): the same, as
       128 + the signal's number, the shell's convention
=====  ==================================================================================

Typer parses the options; its own usage errors (an unknown option, a value that is not
one of the choices) are caught here too and printed as one line instead of Click's
multi-line box. Library messages name parameters (``missing='mean'``); they are printed
with the command line's flags (``--missing mean``, see :mod:`thalweg.cli.flags`).

The command is invoked here rather than through Typer's ``main``, which would turn
Ctrl-C into a silent exit 130 and a closed pipe into exit 1. Signals: from the first
line of :func:`main`, Ctrl-C, SIGTERM and SIGHUP interrupt the command as a
``KeyboardInterrupt`` (so half-written files are removed) and are remembered, so an
interrupt that a library swallows (during an import, say) still ends the run as
interrupted, never as a success. Training handles them itself: it stops between two
steps and saves a checkpoint first. When the reader of standard output goes away
(``thalweg predict ... | head``), the run ends quietly with exit 0. Everything printed
on standard error goes through :func:`thalweg.terminal.printable` (messages quote text
from files).
"""

from __future__ import annotations

import os
import signal
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
    with _interrupts() as received:
        args = list(sys.argv[1:] if argv is None else argv)
        token = _ARGUMENTS.set(tuple(args))
        try:
            code = _run(args)
        except KeyboardInterrupt as error:  # while building the app, before _run's handlers
            code = _interrupted(error)
        finally:
            _ARGUMENTS.reset(token)
        if code == EXIT_OK and received:  # an interrupt that something swallowed
            code = _interrupted(Interrupted(received[0]))
        return code


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP outside the training loop (``signal_number`` says which)."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def _interrupts():
    """Make Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted`, and remember them."""
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        raise Interrupted(signum)

    previous = {}
    try:
        for number in STOP_SIGNALS:
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread (tests, embedding): leave the signals alone
        pass
    try:
        yield received
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _interrupted(error: BaseException) -> int:
    number = getattr(error, "signal_number", signal.SIGINT)
    how = "interrupted" if number == signal.SIGINT else f"stopped by {signal.Signals(number).name}"
    _say(f"{how}; a file being written when it happened was left unchanged")
    return 128 + number


def _run(args: list[str]) -> int:
    from thalweg.cli.app import build_app, hide_flag_types
    from thalweg.cli.recording import record_runs

    app = build_app()
    record_runs(app)  # train, evaluate, cluster, embed: each records a run (thalweg runs)
    command = typer.main.get_command(app)
    hide_flag_types(command)
    with _one_line_warnings():
        try:
            with command.make_context("thalweg", args) as context:
                result = command.invoke(context)
        except (typer.Exit, *_click_classes("Exit")) as exit_:  # --help, ctx.exit()
            return exit_.exit_code
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
        except (typer.Abort, *_click_classes("Abort")):
            return _interrupted(Interrupted(signal.SIGINT))
        except KeyboardInterrupt as error:
            return _interrupted(error)
        except BrokenPipeError:  # e.g. `thalweg predict ... | head`: the reader left
            _silence_stdout()
            return EXIT_OK
        except Exception:
            traceback.print_exc()
            _say("this is a bug in thalweg: please report it with the traceback above")
            return EXIT_BUG
    return result if isinstance(result, int) else EXIT_OK


def _click_classes(name: str) -> list[type]:
    """Click's exception class ``name``, from Typer's vendored copy and/or Click itself."""
    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            continue
    return found


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the final flush at exit does not fail
    again on the closed pipe (Python would print "Exception ignored ...")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _one_line(message: str) -> str:
    # Typer words a bad choice as "Value error, 'x' is not one of ..."; keep the second half.
    return as_flags(" ".join(message.replace("Value error, ", "").split()))


def _say(line: str) -> None:
    from thalweg.terminal import printable

    print(printable(line), file=sys.stderr, flush=True)


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
