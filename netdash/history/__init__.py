"""Listener history on disk: where the database lives (:mod:`.paths`), the SQLite store
(:mod:`.store`), what feeds it from the dashboard and ``netdash watch`` (:mod:`.recorder`)
and desktop notifications (:mod:`.notify`). The events themselves are pure data in
:mod:`netdash.core.history`."""
