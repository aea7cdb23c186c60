"""Child processes that a test stops with Ctrl-C (SIGINT)."""

from __future__ import annotations

import signal


def like_a_terminal() -> None:
    """``preexec_fn`` for a child a test will stop with SIGINT, as Ctrl-C would.

    A command started from a terminal gets Ctrl-C. When this suite itself runs as a
    shell's background job (a CI script's ``&``, ``setsid ... &``), its children inherit
    SIGINT *ignored*; the child would then never stop, and what it started would outlive
    the test. Undo that for the child.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
