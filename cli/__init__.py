"""The `surge` command: the front door, above every room it drives.

Installed as ``surge.cli``; ``main`` is the console entry point.
"""

from surge.cli.main import main

__all__ = ["main"]
