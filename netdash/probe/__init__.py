"""Probing this machine's own listeners: the engine, identifications, child processes."""
