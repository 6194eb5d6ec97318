"""The commands of ``netdash``: one module each, each with ``run(settings) -> int`` (the exit
code). :func:`netdash.cli.main` imports only the one it runs."""
