"""Which endpoints a scoped threshold judges at the end of a run: the live rule, again.

The master judges ``p95{name=GET /x}`` over that endpoint and ``p95{name=/x}`` (a request
name without its method) over every method of ``/x`` merged, dropped requests included
(`locustfiles.live_endpoints.matches`). The report's per-endpoint table has one row per
endpoint, so a rule whose name covers more than the one row labelled exactly so gets its
own figures here: the union of the covered endpoints' requests (the frame engine) or of
their exact histograms (the streaming engine), never a mix of per-endpoint percentiles.
Exact strings only: ``GET /x`` is that endpoint; a name nothing matches stays unjudged
(and warned about, `analysis.checks.unknown_endpoints`).

Both engines produce the same rows (`RULE_COLUMNS` + the `group_summary` columns; window
-1 is the whole run) and `add_rule_metrics` turns them into the threshold metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from surge.analysis.checks import metric_values
from surge.analysis.metrics import group_summary
from surge.analysis.stages import window_codes
from surge.locustfiles.live_endpoints import matches

RULE_COLUMNS = ("rule", "window")
WHOLE_RUN = -1  # the `window` of a rule's whole-run row


def rule_names(thresholds: Iterable[Any]) -> list[str]:
    """The distinct endpoint names scoped rules give, in first-seen order."""
    return list(dict.fromkeys(t.name for t in thresholds if t.name is not None))


def merged_rules(
    thresholds: Iterable[Any], names_by_label: Mapping[str, Collection[str]]
) -> dict[str, list[str]]:
    """rule name -> the endpoint labels it covers, for rules that cover more (or other)
    than the table row of exactly that label: those need figures of their own."""
    out = {}
    for rule in rule_names(thresholds):
        covered = sorted(
            label
            for label, names in names_by_label.items()
            if matches(rule, label) or any(matches(rule, label, n) for n in names)
        )
        if covered and covered != [rule]:
            out[rule] = covered
    return out


def _rows(rule: str, whole: pd.DataFrame, by_window: pd.DataFrame) -> pd.DataFrame:
    whole = whole.assign(rule=rule, window=WHOLE_RUN)
    by_window = by_window.assign(rule=rule, window=np.arange(len(by_window)))
    return pd.concat([whole, by_window[by_window["requests"] > 0]], ignore_index=True)


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=list(RULE_COLUMNS))
    table = pd.concat(parts, ignore_index=True)
    return table[list(RULE_COLUMNS) + [c for c in table.columns if c not in RULE_COLUMNS]]


def frame_rule_rows(
    run: Any, codes: np.ndarray, labels: tuple[str, ...], windows: pd.DataFrame
) -> pd.DataFrame:
    """The frame engine: rows of the requests whose endpoint (`codes` into `labels`) a
    merging rule covers, over the run and per stage window (`windows`)."""
    names = run.requests["name"].cat
    name_codes = names.codes.to_numpy()
    names_by_label: dict[str, set[str]] = {label: set() for label in labels}
    rules = rule_names(run.thresholds)
    for rule in rules:  # only the names rules give: no pass over every (endpoint, name)
        if rule in names.categories:
            at = names.categories.get_loc(rule)
            for code in np.unique(codes[name_codes == at]).tolist():
                if code >= 0:
                    names_by_label[labels[code]].add(rule)
    parts = []
    position = {label: i for i, label in enumerate(labels)}
    merging = merged_rules(run.thresholds, names_by_label)
    window = window_codes(run.requests, windows) if merging else codes
    n_win = len(windows)
    for rule, covered in merging.items():
        inside = np.isin(codes, [position[label] for label in covered])
        whole = group_summary(run, np.where(inside, 0, -1), 1, uncorrected=True)
        in_window = inside & (window >= 0)
        by_window = group_summary(run, np.where(in_window, window, -1), n_win, uncorrected=True)
        parts.append(_rows(rule, whole, by_window))
    return _joined(parts)


def streamed_rule_rows(
    thresholds: Iterable[Any],
    labels: list[str],
    names_by_label: Mapping[str, Collection[str]],
    n_win: int,
    derive: Callable[[np.ndarray, int], pd.DataFrame],
) -> pd.DataFrame:
    """The streaming engine: `derive(mapping, n)` merges the exact histograms of cells
    (endpoint id x (stage window, or n_win: outside)); endpoint ids index `labels`."""
    cells = len(labels) * (n_win + 1)
    endpoint_of = np.arange(cells) // (n_win + 1)
    window_of = np.arange(cells) % (n_win + 1)
    position = {label: i for i, label in enumerate(labels)}
    parts = []
    for rule, covered in merged_rules(thresholds, names_by_label).items():
        inside = np.isin(endpoint_of, [position[label] for label in covered])
        whole = derive(np.where(inside, 0, -1), 1)
        by_window = derive(np.where(inside & (window_of < n_win), window_of, -1), n_win)
        parts.append(_rows(rule, whole, by_window))
    return _joined(parts)


def add_rule_metrics(
    metrics: dict[str, dict[str, float]],
    metrics_by_stage: dict[int, dict[str, dict[str, float]]],
    rows: pd.DataFrame,
    seconds: float,
    windows: pd.DataFrame,
) -> None:
    """Put each merging rule's figures where the verdict (`metrics`, endpoint -> metrics)
    and the knee (`metrics_by_stage`, stage -> endpoint -> metrics) look its name up."""
    stage_of = windows["stage"].to_numpy()
    window_s = windows["window_s"].to_numpy()
    for row in rows.to_dict("records"):
        w = int(row["window"])
        if w == WHOLE_RUN:
            metrics[row["rule"]] = metric_values(row, seconds)
        else:
            stage = int(stage_of[w])
            metrics_by_stage.setdefault(stage, {})[row["rule"]] = metric_values(row, window_s[w])
