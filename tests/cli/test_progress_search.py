"""The terminal line of a capacity search: the step being held and the knee's bracket."""

from __future__ import annotations

from surge.cli.progress import render, search_text


def test_the_line_shows_the_step_and_the_bracket() -> None:
    status = {
        "state": "running", "stage_index": 8, "stage_count": 10,
        "search": {"phase": "bisect", "step": 5, "rate": 120.0, "bracket": [100.0, 160.0],
                   "end": None},
    }  # fmt: skip
    line = render(status, bar=False)
    assert "stage 9/10 | search step 5 120/s (bisect), knee in [100, 160)/s |" in line


def test_every_phase_of_the_bracket_reads_plainly() -> None:
    def text(lo, hi, **more):
        return search_text({"step": 2, "rate": 40.0, "phase": "raise", "bracket": [lo, hi],
                            **more})[0]  # fmt: skip

    assert text(None, None).endswith("knee not bracketed yet")
    assert text(20.0, None).endswith("knee >= 20/s")
    assert text(None, 10.0).endswith("knee < 10/s")
    done = text(100.0, 105.0, end="converged", end_reason="between 100 and 105 req/s")
    assert done == "search done: between 100 and 105 req/s, knee in [100, 105)/s"
    assert search_text(None) == [] and search_text("junk") == []  # a staircase run
