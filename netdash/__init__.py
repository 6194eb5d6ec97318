"""netdash: which of your local servers can only this machine reach, and which can the network?

The core (``model``, ``collect``, ``classify``, ``probe``, ``render``) is importable without
Textual; ``netdash.tui.app`` holds the terminal dashboard.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
