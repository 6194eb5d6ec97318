"""Command line: ``netdash`` starts the dashboard; ``list``, ``check``, ``who`` and ``free``
answer the same questions for scripts.

:func:`main` parses the arguments (:mod:`netdash.cli.parser`), resolves them once into
:class:`netdash.config.Settings` and runs one command (:mod:`netdash.cli.commands`), turning
every failure into a one-line message and an exit code (CONTRACTS.md): 0 nothing to report;
1 something to report (``check``: findings; ``who``: nothing listens; ``free``: the port is
taken); 2 usage, configuration or runtime error (never a traceback); 3 ``check`` found
nothing on an incomplete view; 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import psutil

from netdash.cli.common import OutputError, UsageError
from netdash.config import ConfigError, Settings, resolve_settings

__all__ = ["main"]


def _command(name: str | None) -> Callable[[Settings], int]:
    """The ``run`` of command ``name`` (``None``: the dashboard), importing only its module
    (``netdash.cli.commands.<name>``: a new command is a new module there, nothing here)."""
    from importlib import import_module

    module = import_module(f"netdash.cli.commands.{name or 'dashboard'}")
    run: Callable[[Settings], int] = module.run
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from netdash.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(vars(args))
        return _command(settings.command)(settings)
    except BrokenPipeError:
        # The reader went away (`netdash list | head`): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (UsageError, OutputError, ConfigError) as exc:
        print(f"netdash: error: {exc}", file=sys.stderr)
        return 2
    except (psutil.Error, OSError) as exc:
        print(f"netdash: error: cannot read the socket table: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
