"""``python -m netdash`` runs the same command line as the ``netdash`` script."""

from netdash.cli import main

raise SystemExit(main())
