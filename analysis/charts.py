"""Charts drawn from aggregates (timeline, stage table, histogram, health), never raw rows.

Each function returns an SVG as a ``data:`` URI, so index.html embeds it and opens
offline; SVG stays sharp when printed. Long runs are bucketed to `MAX_POINTS`.
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

MAX_POINTS = 2000  # per line; longer timelines are bucketed
WIDTH_IN, HEIGHT_IN = 10.0, 3.6
MARGIN_LEFT_IN, MARGIN_RIGHT_IN, MARGIN_BOTTOM_IN, MARGIN_TOP_IN = 0.85, 0.15, 0.6, 0.25
COLORS = {
    "offered": "#8c8c8c",
    "sent": "#7fb3e6",
    "achieved": "#1a7f37",
    "p50": "#2c7be5",
    "p90": "#6f42c1",
    "p95": "#e36209",
    "p99": "#cf222e",
    "max": "#57606a",
    "ok": "#2da44e",
    "rejected": "#9be9a8",
    "throttled": "#bf8700",
    "error": "#cf222e",
    "timeout": "#8250df",
    "dropped": "#57606a",
    "baseline": "#afb8c1",
    "current": "#0969da",
}

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#e6e6e6",
        "grid.linewidth": 0.6,
        "legend.frameon": False,
        "svg.fonttype": "none",  # text stays text: smaller, faster, searchable; browser fonts
        "font.family": "sans-serif",
        "svg.hashsalt": "surge",  # stable ids: the same run renders the same file
    }
)


def _to_uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(rows: int = 1, height: float = HEIGHT_IN) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(rows, 1, figsize=(WIDTH_IN, height * rows), squeeze=False, sharex=True)
    _margins(fig)
    return fig, axes[:, 0]


def _margins(fig: plt.Figure) -> None:
    """Fixed margins in inches: a constrained layout measures every tick label and took
    ~40 % of the charts' time, for margins that hardly change between runs."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=MARGIN_LEFT_IN / width,
        right=1 - MARGIN_RIGHT_IN / width,
        bottom=MARGIN_BOTTOM_IN / height,
        top=1 - MARGIN_TOP_IN / height,
        hspace=0.25,
        wspace=0.2,
    )


def _bucket(timeline: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Long timelines: sums/means per bucket, max of per-second percentiles (labelled)."""
    k = max(1, math.ceil(len(timeline) / MAX_POINTS))
    if k == 1:
        return timeline, 1
    group = timeline["second"] // k
    agg = {c: "max" for c in timeline.columns if c.startswith("p") or c.startswith("max")}
    agg.update({c: "mean" for c in timeline.columns if c not in agg and c != "second"})
    out = timeline.groupby(group).agg(agg)
    out["second"] = out.index * k
    return out.reset_index(drop=True), k


def _time_axis(ax: plt.Axes, seconds: pd.Series) -> np.ndarray:
    minutes = seconds.max() > 600 if len(seconds) else False
    ax.set_xlabel("minutes since start" if minutes else "seconds since start")
    return seconds.to_numpy() / (60.0 if minutes else 1.0)


def _seconds_label(value: float, _pos: object = None) -> str:
    if value <= 0:
        return "0"
    if value < 1:
        return f"{value * 1000:g} ms"
    return f"{value:g} s"


def _stage_marks(ax: plt.Axes, stages: pd.DataFrame, scale: float) -> None:
    for start in stages["start_s"].to_numpy()[1:]:
        ax.axvline(start / scale, color="#d0d7de", linewidth=0.7, zorder=0)


def throughput_chart(timeline: pd.DataFrame, stages: pd.DataFrame) -> str:
    data, k = _bucket(timeline)
    fig, (ax,) = _figure()
    x = _time_axis(ax, data["second"])
    scale = 60.0 if ax.get_xlabel().startswith("minutes") else 1.0
    _stage_marks(ax, stages, scale)
    ax.plot(
        x, data["offered_rps"], color=COLORS["offered"], linestyle="--", label="offered (schedule)"
    )
    ax.plot(x, data["sent"], color=COLORS["sent"], linewidth=1, label="sent")
    ax.plot(
        x,
        data["achieved"],
        color=COLORS["achieved"],
        linewidth=1.4,
        label="achieved (successful answers)",
    )
    ax.set_ylabel("requests / s" + (f" (mean per {k} s)" if k > 1 else ""))
    _headroom(ax, data[["offered_rps", "sent", "achieved"]].to_numpy().max(initial=0))
    ax.legend(loc="upper left", ncol=3)
    return _to_uri(fig)


def latency_chart(timeline: pd.DataFrame, stages: pd.DataFrame, slo_s: float | None) -> str:
    data, k = _bucket(timeline)
    fig, (ax,) = _figure()
    x = _time_axis(ax, data["second"])
    scale = 60.0 if ax.get_xlabel().startswith("minutes") else 1.0
    _stage_marks(ax, stages, scale)
    for name in ("p50", "p95", "p99", "max"):
        ax.plot(
            x,
            data[name],
            color=COLORS[name],
            linewidth=1.1 if name != "max" else 0.7,
            label=f"{name} corrected",
        )
    ax.plot(
        x,
        data["p99_uncorrected"],
        color=COLORS["p99"],
        linestyle=":",
        linewidth=1,
        label="p99 uncorrected (from actual send)",
    )
    if slo_s:
        ax.axhline(slo_s, color="#cf222e", linewidth=0.8, linestyle="--", alpha=0.6)
        ax.annotate(
            f"service level {_seconds_label(slo_s)}",
            (x[0] if len(x) else 0, slo_s),
            fontsize=8,
            color="#cf222e",
            va="bottom",
        )
    _log_latency_axis(ax, data[["p50", "max"]].to_numpy())
    ax.set_ylabel("latency" + (f" (max of per-second values per {k} s)" if k > 1 else ""))
    ax.legend(loc="upper left", ncol=3)
    return _to_uri(fig)


def _headroom(ax: plt.Axes, top: float) -> None:
    """Room above the data for the legend."""
    ax.set_ylim(0, max(float(top), 1.0) * 1.3)


def _log_latency_axis(ax: plt.Axes, values: np.ndarray) -> None:
    finite = values[np.isfinite(values) & (values > 0)]
    if len(finite):
        ax.set_yscale("log")
        ax.set_ylim(max(finite.min() / 1.5, 1e-5), finite.max() * 4)
    ax.yaxis.set_major_formatter(FuncFormatter(_seconds_label))
    # matplotlib labels a short log axis's minor ticks itself, as "2 x 10^-3" beside
    # "10 ms": label them in the same unit (2 and 5 only), or not at all when majors suffice
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: _minor_label(ax, v)))


def _minor_label(ax: plt.Axes, value: float) -> str:
    low, high = ax.get_ylim()
    if value <= 0 or low <= 0 or high / low > 30:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
    return _seconds_label(value) if mantissa in (2.0, 5.0) else ""


def load_chart(stage_table: pd.DataFrame, slo_s: float | None, knee_rps: float | None) -> str:
    data = stage_table[stage_table["steady"] & (stage_table["requests"] > 0)]
    data = data.sort_values("offered_rps")
    fig, (ax,) = _figure()
    for name in ("p50", "p95", "p99", "max"):
        ax.plot(
            data["offered_rps"],
            data[name],
            marker="o",
            markersize=4,
            color=COLORS[name],
            label=name,
            linewidth=1.2 if name != "max" else 0.7,
        )
    if slo_s:
        ax.axhline(
            slo_s,
            color="#cf222e",
            linewidth=0.8,
            linestyle="--",
            alpha=0.6,
            label=f"service level {_seconds_label(slo_s)}",
        )
    if knee_rps:
        ax.axvline(
            knee_rps,
            color=COLORS["achieved"],
            linewidth=1,
            linestyle="--",
            label=f"knee {knee_rps:,.0f} req/s",
        )
    _log_latency_axis(ax, data[["p50", "max"]].to_numpy())
    ax.set_xlabel("offered load, requests / s (steady part of each hold stage)")
    ax.set_ylabel("latency (corrected)")
    ax.legend(loc="upper left", ncol=3)
    return _to_uri(fig)


def distribution_chart(hist: pd.DataFrame, marks: dict[str, float]) -> str:
    fig, (ax,) = _figure()
    total = max(int(hist["corrected"].sum()), 1)
    shares = hist[["corrected", "uncorrected"]].to_numpy() / total
    edges = np.append(hist["lo_s"].to_numpy(), hist["hi_s"].to_numpy()[-1:])
    # one filled step outline per series: as many bars cost one artist each to draw
    series = (
        (1, "baseline", 0.7, "uncorrected (from actual send)"),
        (0, "current", 0.6, "corrected (from intended send)"),
    )
    for column, color, alpha, label in series:
        ax.stairs(
            shares[:, column], edges, fill=True, color=COLORS[color], alpha=alpha, label=label
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_seconds_label))
    top = max(float(shares.max(initial=0)), 0.01) * 1.35
    ax.set_ylim(0, top)
    for name, value in marks.items():
        if value and np.isfinite(value):
            ax.axvline(value, color=COLORS.get(name, "#57606a"), linewidth=1, linestyle="--")
            ax.annotate(
                f" {name} {_seconds_label(round(value, 4))}",
                (value, top * 0.97),
                rotation=90,
                fontsize=8,
                ha="right",
                va="top",
                color=COLORS.get(name),
            )
    ax.set_xlabel("latency (log scale)")
    ax.set_ylabel("share of requests")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    ax.legend(loc="upper left")
    return _to_uri(fig)


def outcome_chart(timeline: pd.DataFrame, stages: pd.DataFrame) -> str:
    data, k = _bucket(timeline)
    fig, (ax,) = _figure()
    x = _time_axis(ax, data["second"])
    series = {
        "ok": data["ok"],
        "rejected": data["rejected"],
        "throttled": data["throttled"],
        "error": data["error"] - data["throttled"],
        "timeout": data["timeout"],
        "dropped": data["dropped"],
    }
    ax.stackplot(
        x,
        *series.values(),
        labels=list(series),  # the run's outcome words, not one shop's (no "409 sold out")
        colors=[COLORS[n] for n in series],
        linewidth=0,
    )
    ax.set_ylabel("requests / s by intended second" + (f" (mean per {k} s)" if k > 1 else ""))
    _headroom(ax, data["requests"].to_numpy().max(initial=0))
    ax.legend(loc="upper left", ncol=6)
    return _to_uri(fig)


def health_chart(health: pd.DataFrame | None) -> str | None:
    if health is None or health.empty:
        return None
    fig, axes = _figure(rows=2, height=2.6)
    workers = list(health["worker"].astype(str).unique())
    minutes = health["sec"].max() > 600
    scale = 60.0 if minutes else 1.0
    for worker, rows in health.groupby(health["worker"].astype(str), observed=True):
        label = worker if len(workers) <= 8 else None
        axes[0].plot(rows["sec"] / scale, rows["cpu_percent"], linewidth=0.9, label=label)
        axes[1].plot(rows["sec"] / scale, rows["send_lag_p99_us"] / 1000.0, linewidth=0.9)
    axes[0].axhline(90, color="#cf222e", linestyle="--", linewidth=0.8)
    axes[0].set_ylabel("CPU %")
    axes[0].set_ylim(0, 105)
    axes[1].axhline(50, color="#cf222e", linestyle="--", linewidth=0.8)
    axes[1].set_ylabel("send lag p99, ms")
    axes[1].set_ylim(bottom=0)
    axes[1].set_xlabel("minutes since start" if minutes else "seconds since start")
    if len(workers) <= 8:
        axes[0].legend(loc="lower right", ncol=4, title="worker", fontsize=7)
    return _to_uri(fig)


def comparison_chart(deltas: pd.DataFrame) -> str | None:
    if deltas is None or deltas.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH_IN, HEIGHT_IN))
    _margins(fig)
    labels = [f"{r:g}/s" for r in deltas["offered_rps"]]
    x = np.arange(len(deltas))
    for ax, col, title in ((axes[0], "achieved_rps", "achieved req/s"), (axes[1], "p95", "p95")):
        ax.bar(
            x - 0.2,
            deltas[f"{col}_baseline"],
            width=0.4,
            color=COLORS["baseline"],
            label="baseline",
        )
        ax.bar(x + 0.2, deltas[col], width=0.4, color=COLORS["current"], label="this run")
        ax.set_xticks(x, labels, rotation=45 if len(x) > 6 else 0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("offered load")
    axes[1].yaxis.set_major_formatter(FuncFormatter(_seconds_label))
    axes[0].legend(loc="upper left")
    return _to_uri(fig)
