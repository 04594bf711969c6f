"""``report.html``: one self-contained page (every image embedded as a data URI) showing what
``metrics.json`` holds — the result table by policy name with intervals, per category, per objective, the
toy world's optimum, diversity, the upstream stages' quality, the adapter's weights against the truth,
training curves, and sample completions side by side.  Every number of a table carries its
``metrics.json`` path (``data-key``), so the page and the file cannot disagree unnoticed."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pro.eval.table import DECODINGS, Cell, Row, headline, lookup, result_rows


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


#: history keys plotted when present, besides ``z/<objective>``
CURVE_KEYS = ("trueUtility", "reward", "kl", "length")


def curves_image(curves: Mapping[str, Sequence[Mapping[str, float]]], *, window: int = 10) -> str | None:
    """One panel per training-curve key (true utility, combined reward, KL, length, each objective's
    mean z), one line per run, smoothed; a PNG data URI (None when no run has a curve)."""
    keys = [k for k in CURVE_KEYS if any(k in r for rows in curves.values() for r in rows)]
    keys += sorted({k for rows in curves.values() for r in rows for k in r if k.startswith("z/")})
    if not keys:
        return None
    plt = _plt()
    cols = min(3, len(keys))
    nrows = -(-len(keys) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 2.8 * nrows), squeeze=False)
    for ax, key in zip(axes.ravel(), keys, strict=False):
        for label, rows in curves.items():
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                steps, vals = zip(*pts, strict=True)
                ax.plot(steps, smooth(vals, window), label=label)
        ax.set_title(key.replace("z/", "mean z: "), fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.suptitle(f"training curves (moving average of {window})", fontsize=10)
    fig.tight_layout()
    image = _png_data_uri(fig)
    plt.close(fig)
    return image


def heatmap_image(
    weights: Mapping[str, Mapping[str, float]],
    objectives: Sequence[str],
    truth: Mapping[str, Mapping[str, float]] | None = None,
) -> str:
    """The adapter's mean weight per (category, objective) as a heatmap, beside the toy world's hidden
    weights when known; a PNG data URI."""
    plt = _plt()
    panels = [("adapter", weights)] + ([("truth (hidden weights)", truth)] if truth else [])
    cats = list(weights)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.2 * len(objectives) * len(panels) + 2.5, 0.45 * len(cats) + 1.6),
                             squeeze=False)  # fmt: skip
    for ax, (title, data) in zip(axes[0], panels, strict=True):
        grid = np.asarray([[data.get(c, {}).get(o, np.nan) for o in objectives] for c in cats])
        ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(objectives)), objectives, fontsize=8, rotation=30, ha="right")
        ax.set_yticks(range(len(cats)), cats, fontsize=8)
        for i in range(len(cats)):
            for j in range(len(objectives)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if grid[i, j] < 0.6 else "black")  # fmt: skip
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    image = _png_data_uri(fig)
    plt.close(fig)
    return image


def _cell(c: Cell) -> str:
    return f"<td data-key='{html.escape(c.path)}'>{html.escape(c.text())}</td>"


def _rows_table(rows: Sequence[Row], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f"<tr><th>{html.escape(label)}</th>{''.join(_cell(c) for c in cells)}</tr>" for label, cells in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(key: str, title: str, body: str) -> str:
    return f"<section id='{key}'><h2>{html.escape(title)}</h2>{body}</section>"


def _category_rows(m: Mapping[str, Any], names: Sequence[str]) -> list[Row]:
    rows: list[Row] = []
    for key, label in DECODINGS:
        for c, v in (lookup(m, f"{key}.byCategory") or {}).items():
            base = f"{key}.byCategory.{c}"
            lo, hi = v["interval"]
            cells = [Cell(f"{base}.winRate", v["winRate"], "rate", (lo, hi))]
            for n in names:
                cells.append(Cell(f"{base}.policies.{n}.judge", v["policies"][n]["judge"]))
            for n in names:
                share = v["policies"][n]["shareOfOptimum"]
                cells.append(Cell(f"{base}.policies.{n}.shareOfOptimum", share, "share"))
            rows.append((f"{c} ({v['prompts']}), {label}", cells))
    return rows


def _samples(m: Mapping[str, Any], names: Sequence[str]) -> str:
    parts = []
    for c, items in (m.get("samples") or {}).items():
        rows = []
        for i, s in enumerate(items):
            key = f"samples.{c}.{i}"
            score = "".join(_cell(Cell(f"{key}.scores.{n}", s["scores"].get(n))) for n in names)
            texts = "".join(f"<td class='text'>{html.escape(s['texts'][n])}</td>" for n in names)
            rows.append(f"<tr><td>{html.escape(s['kind'])}</td><td class='text'>{html.escape(s['prompt'])}</td>"
                        f"{texts}{score}{_cell(Cell(f'{key}.winA', s['winA']))}</tr>")  # fmt: skip
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        scores = "".join(f"<th>score {html.escape(n)}</th>" for n in names)
        parts.append(f"<h3>{html.escape(c)}</h3><table class='samples'><tr><th>which</th><th>prompt</th>{head}{scores}"
                     f"<th>win of {html.escape(names[0])}</th></tr>{''.join(rows)}</table>")  # fmt: skip
    return "".join(parts)


def write_report(
    out_dir: Path,
    metrics: Mapping[str, Any],
    *,
    title: str,
    curves: str | None = None,
    heatmap: str | None = None,
) -> Path:
    """``report.html`` in ``out_dir`` from ``metrics`` (what ``metrics.json`` holds) and the images
    (PNG data URIs) of :func:`curves_image` and :func:`heatmap_image`."""
    names = [metrics["policyA"], metrics["policyB"]]
    judge = metrics.get("judge", {})
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:75em;margin:2em auto}table{border-collapse:collapse;"
        "margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .6em;text-align:right;vertical-align:top}"
        "td.text{text-align:left;font-family:monospace;font-size:85%;max-width:28em}"
        "th{background:#f3f3f3}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(headline(metrics))}. Judge: {html.escape(str(judge.get('kind', '?')))} "
        f"({html.escape(str(judge.get('source', '')))}); {metrics['prompts']} held-out prompts; greedy decoding and "
        f"{lookup(metrics, 'sampled.samples') or 0} samples per prompt at temperature "
        f"{lookup(metrics, 'sampled.temperature') or '–'}; intervals: 95 % percentile bootstrap over rows.</p>",
        _section("result", "Result", _rows_table(result_rows(metrics, categories=False), ["metric", *names])),
    ]
    cat_rows = _category_rows(metrics, names)
    if cat_rows:
        header = ["category, decoding", f"win rate of {names[0]}", *(f"judge {n}" for n in names),
                  *(f"share of optimum {n}" for n in names)]  # fmt: skip
        parts.append(_section("categories", "By prompt category", _rows_table(cat_rows, header)))
    obj_rows: list[Row] = []
    for key, label in DECODINGS[:2]:
        for o, v in (lookup(metrics, f"{key}.byObjective") or {}).items():
            obj_rows.append(
                (
                    f"{o}, {label}",
                    [Cell(f"{key}.byObjective.{o}.winRate", v["winRate"], "rate", tuple(v["interval"]))],
                )
            )
    if obj_rows:
        parts.append(_section("objectives", "Win rate per objective (its own scores)",
                              _rows_table(obj_rows, ["objective, decoding", f"win rate of {names[0]}"])))  # fmt: skip
    if "optimum" in metrics:
        opt = metrics["optimum"]
        rows: list[Row] = [("all", [Cell("optimum.mean", opt["mean"])] + [
            Cell(f"{k}.policies.{n}.shareOfOptimum", lookup(metrics, f"{k}.policies.{n}.shareOfOptimum"), "share")
            for k, _ in DECODINGS for n in names])]  # fmt: skip
        for c, value in opt["byCategory"].items():
            rows.append((c, [Cell(f"optimum.byCategory.{c}", value)] + [
                Cell(f"{k}.byCategory.{c}.policies.{n}.shareOfOptimum",
                     lookup(metrics, f"{k}.byCategory.{c}.policies.{n}.shareOfOptimum"), "share")
                for k, _ in DECODINGS for n in names]))  # fmt: skip
        header = ["category", "optimum (true utility)"] + [
            f"{n}, {label}" for _, label in DECODINGS for n in names
        ]
        parts.append(
            _section(
                "optimum", "The toy world's optimum and each policy's share of it", _rows_table(rows, header)
            )
        )
    up = metrics.get("upstream") or {}
    if up:
        rows = [(f"reward model {o}: held-out accuracy", [Cell(f"upstream.rewardModels.{o}.heldoutAccuracy", v.get("heldoutAccuracy"))])
                for o, v in up.get("rewardModels", {}).items()]  # fmt: skip
        for k in ("heldoutKL", "heldoutArgmaxAgreement", "heldoutTV"):
            if k in up.get("adapter", {}):
                rows.append((f"adapter: {k}", [Cell(f"upstream.adapter.{k}", up["adapter"][k])]))
        parts.append(_section("upstream", "Upstream stages", _rows_table(rows, ["what", "value"])))
    if heatmap:
        wrows: list[Row] = []
        for c, w in (metrics.get("adapterWeightsByCategory") or {}).items():
            cells = [Cell(f"adapterWeightsByCategory.{c}.{o}", v) for o, v in w.items()]
            truth = (metrics.get("trueWeightsByCategory") or {}).get(c)
            if truth:
                cells += [Cell(f"trueWeightsByCategory.{c}.{o}", v) for o, v in truth.items()]
            wrows.append((c, cells))
        objs = list(next(iter((metrics.get("adapterWeightsByCategory") or {"": {}}).values())))
        header = ["category", *(f"adapter {o}" for o in objs)]
        if metrics.get("trueWeightsByCategory"):
            header += [f"truth {o}" for o in objs]
        parts.append(_section("weights", "The adapter's weights per prompt category",
                              f"<img alt='adapter weights' src='{heatmap}'>" + _rows_table(wrows, header)))  # fmt: skip
    if curves:
        parts.append(_section("curves", "Training curves", f"<img alt='training curves' src='{curves}'>"))
    if metrics.get("samples"):
        parts.append(_section("samples", "Sample completions (greedy): random and worst per category",
                              _samples(metrics, names)))  # fmt: skip
    if "promotion" in metrics:
        parts.append(
            _section(
                "promotion",
                "Promotion gate",
                f"<pre>{html.escape(json.dumps(metrics['promotion'], indent=1))}</pre>",
            )
        )
    parts.append(_section("raw", "metrics.json", f"<pre>{html.escape(json.dumps(metrics, indent=1))}</pre>"))
    parts.append("</body></html>\n")
    path = out_dir / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


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


__all__ = ["curves_image", "heatmap_image", "smooth", "write_drift_report", "write_report"]
