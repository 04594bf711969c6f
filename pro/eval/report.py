"""``report.html`` with PNG plots (matplotlib, Agg): adapter weights per prompt category, training curves
per weight mode, and the win-rate table."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average (the first points average what there is)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or window <= 1:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    out = np.empty_like(v)
    for i in range(v.size):
        lo = max(0, i + 1 - window)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


def plot_weights_by_category(
    weights: Mapping[str, Mapping[str, float]], objectives: Sequence[str], path: Path
) -> Path:
    """Grouped bars: mean adapter weight per objective for each prompt category."""
    plt = _plt()
    cats = list(weights)
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    width = 0.8 / max(1, len(objectives))
    x = np.arange(len(cats))
    for k, o in enumerate(objectives):
        ax.bar(x + k * width, [weights[c][o] for c in cats], width, label=o)
    ax.set_xticks(x + width * (len(objectives) - 1) / 2, cats)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean adapter weight")
    ax.set_title("adapter weights per prompt category")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_curves(
    curves: Mapping[str, Sequence[Mapping[str, float]]],
    key: str,
    path: Path,
    *,
    window: int = 10,
    title: str = "",
) -> Path | None:
    """One line per run: ``key`` (e.g. ``trueUtility`` or ``reward``) over training steps, smoothed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    drawn = 0
    for label, rows in curves.items():
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if not pts:
            continue
        steps, vals = zip(*pts, strict=True)
        ax.plot(steps, smooth(vals, window), label=label)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("training step")
    ax.set_ylabel(key)
    ax.set_title(title or f"{key} over training (moving average of {window})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        return html.escape(f"{v:.3f}" if isinstance(v, float) else str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(
    out_dir: Path,
    *,
    title: str,
    comparisons: Mapping[str, Mapping[str, Any]],
    plots: Sequence[tuple[str, Path]],
    notes: Sequence[str] = (),
) -> Path:
    """``report.html`` next to the plots (referenced by file name, so the directory is self-contained)."""
    rows = []
    for name, m in comparisons.items():
        rows.append(
            [name, m["prompts"], m["winRate"], m["meanJudge"]["a"], m["meanJudge"]["b"],
             m["length"]["a"]["mean"], m["length"]["b"]["mean"]]
        )  # fmt: skip
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em;text-align:right}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
        "<h2>Win rates (A vs B; ties count ½)</h2>",
        _table(rows, ["comparison", "prompts", "win rate A", "judge A", "judge B", "length A", "length B"]),
    ]
    for name, m in comparisons.items():
        if "byCategory" in m:
            parts.append(f"<h3>{html.escape(name)}: by prompt category</h3>")
            parts.append(
                _table(
                    [
                        [c, v["prompts"], v["winRate"], v["meanJudgeA"], v["meanJudgeB"]]
                        for c, v in m["byCategory"].items()
                    ],
                    ["category", "prompts", "win rate A", "judge A", "judge B"],
                )
            )
        if "objectives" in m:
            parts.append(f"<h3>{html.escape(name)}: mean reward per objective</h3>")
            parts.append(
                _table([[o, v["a"], v["b"]] for o, v in m["objectives"].items()], ["objective", "A", "B"])
            )
    for caption, p in plots:
        parts.append(f"<h2>{html.escape(caption)}</h2><img src='{html.escape(p.name)}'>")
    for n in notes:
        parts.append(f"<p>{html.escape(n)}</p>")
    parts.append(
        f"<h2>Raw metrics</h2><pre>{html.escape(json.dumps(comparisons, indent=1))}</pre></body></html>"
    )
    path = out_dir / "report.html"
    path.write_text("\n".join(parts))
    return path


__all__ = ["plot_curves", "plot_weights_by_category", "smooth", "write_report"]


def _png_data_uri(fig: Any) -> str:
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def write_drift_report(records: Sequence[Any], path: str | Path, *, title: str) -> Path:
    """A self-contained HTML page (plot embedded): each objective's mean weight per probe category across
    the runs (``records``: :class:`~pro.spec.promotion.RunRecord`, oldest first), and the table behind it."""
    plt = _plt()
    objectives = list(records[-1].objectives)
    categories = sorted({c for r in records for c in r.weights})
    runs = [r.run for r in records]
    fig, axes = plt.subplots(1, len(categories), figsize=(3.2 * len(categories) + 1, 3.4), squeeze=False)
    for ax, c in zip(axes[0], categories, strict=True):
        for o in objectives:
            ys = [r.weights[c].get(o, np.nan) if c in r.weights else np.nan for r in records]
            ax.plot(range(len(runs)), ys, marker="o", label=o)
        ax.set_title(c)
        ax.set_ylim(0, 1)
        ax.set_xticks(range(len(runs)), runs, rotation=45, ha="right", fontsize=7)
    axes[0][0].set_ylabel("mean adapter weight")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("adapter weights on the probe prompts, per run")
    fig.tight_layout()
    image = _png_data_uri(fig)
    plt.close(fig)
    head = "".join(
        f"<th>{html.escape(h)}</th>"
        for h in ("run", "scheduled", "category", *objectives, "move (TV)", "decision")
    )
    rows = []
    for r in records:
        move = f"{r.drift.total_variation:.3f}{' (drift)' if r.drift.moved else ''}" if r.drift else "-"
        for c in categories:
            if c in r.weights:
                cells = [
                    r.run,
                    r.scheduled_time or "-",
                    c,
                    *(f"{r.weights[c].get(o, 0.0):.3f}" for o in objectives),
                    move,
                    r.decision or "-",
                ]
                rows.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><img alt='weights across runs' src='{image}'>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table></body></html>\n"
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
