"""``python -m netdash`` runs the same command line as the ``netdash`` script."""

import sys


def run() -> int:
    """The ``netdash`` command: ``netdash list`` first forks its ``/proc`` owner scan
    (:mod:`netdash.sources.early_scan`), which then runs while the command's modules load."""
    from netdash.sources.early_scan import start

    start(sys.argv[1:])
    from netdash.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
