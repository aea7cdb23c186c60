"""One success formula (`surge.trust`) for the master's live window and the report's frames."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from surge.trust import outcome_rates, successful


def test_live_counters_and_report_frames_count_success_the_same_way() -> None:
    live = Counter({"ok": 5, "rejected": 2, "error": 2, "dropped": 1})
    assert successful(live) == 7  # a 409 sold-out answer is a success, a drop is not
    assert outcome_rates(live, 10) == {"success_rate": 0.7, "error_rate": 0.2, "dropped_rate": 0.1}
    columns = {"ok": [5, 0], "rejected": [2, 0], "error": [2, 0], "timeout": [0, 1]}
    frame = pd.DataFrame({**columns, "dropped": [1, 0]})
    assert successful(frame).tolist() == [7, 0]
    assert outcome_rates(frame, frame.sum(axis=1))["success_rate"].tolist() == [0.7, 0.0]
    assert successful({"ok": 1, "rejected": 1}) == 2  # summary.json's whole-run dict
