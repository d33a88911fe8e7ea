"""The benchmark's figure, drawn by the run itself (matplotlib, Agg backend: no display).

Top: req/s of every operation at each org size (grouped horizontal bars, log
scale), the bare Django view's req/s as a line, and each operation's target
(its minimum ratio times the bare view) as a marker. Bottom: the multi-tenant
import (benchmarks/multitenant.py), users per second and lookup latency as the
new org grows, with no ANALYZE.

    python -m benchmarks.plot benchmarks/results/<stamp>.json   # redraw a past run
"""
from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.targets import BARE_OP, TARGETS, bare_rps  # noqa: E402

LATEST = "latest.svg"
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#8172B3")
# Text stays text in the SVG (small, searchable files).
matplotlib.rcParams["svg.fonttype"] = "none"


def _operations(rows: list[dict]) -> tuple[list[str], list[int], dict]:
    """Operation keys in the run's order, the org sizes, and (op, size) -> row."""
    ops, sizes, found, labels = [], [], {}, {}
    for row in rows:
        if "rps" not in row or not row.get("size") or row.get("op") in (BARE_OP, "bare_db", "full_import"):
            continue
        if row["op"] not in ops:
            ops.append(row["op"])
        if row["size"] not in sizes:
            sizes.append(row["size"])
        found[(row["op"], row["size"])] = row
        labels[row["op"]] = row["operation"]
    return ops, sorted(sizes), {"rows": found, "labels": labels}


def _draw_operations(ax, results: dict) -> None:
    rows = results["rows"]
    ops, sizes, index = _operations(rows)
    bare = bare_rps(rows)
    height = 0.8 / max(1, len(sizes))
    for k, size in enumerate(sizes):
        ys, xs = [], []
        for i, op in enumerate(ops):
            row = index["rows"].get((op, size))
            if row is None:
                continue
            ys.append(i + (k - (len(sizes) - 1) / 2) * height)
            xs.append(row["rps"])
        bars = ax.barh(ys, xs, height=height * 0.92, color=COLORS[k % len(COLORS)], label=f"{size:,} members")
        for bar, x, op in zip(bars, xs, [op for op in ops if (op, size) in index["rows"]]):
            note = f" {x:,.0f}" + (f" ({x / bare:.2f}×)" if bare else "")
            if bare and op in TARGETS and x < TARGETS[op].min_ratio * bare:
                note += " MISS"
            ax.text(x, bar.get_y() + bar.get_height() / 2, note, va="center", fontsize=7)
    if bare:
        ax.axvline(bare, color="black", linewidth=1.2, label=f"bare Django view: {bare:,.0f} req/s")
        db = next((r["rps"] for r in rows if r.get("op") == "bare_db"), None)
        if db:
            ax.axvline(db, color="black", linewidth=0.8, linestyle=":", label=f"bare view + SELECT 1: {db:,.0f} req/s")
        first = True
        for i, op in enumerate(ops):
            target = TARGETS.get(op)
            if target is None:
                continue
            ax.plot([target.min_ratio * bare] * 2, [i - 0.45, i + 0.45], color="#C44E52", linewidth=2,
                    label=("target (min ratio × bare view)" if first else None))
            first = False
    ax.set_yticks(range(len(ops)))
    ax.set_yticklabels([index["labels"][op] for op in ops], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("requests per second (log scale)")
    ax.grid(axis="x", which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize=7)


def _draw_multitenant(ax, results: dict) -> None:
    tenant = results.get("multitenant") or {}
    points = (tenant.get("import") or {}).get("timeline") or []
    if not points:
        ax.text(0.5, 0.5, "multi-tenant import not run in this run (--no-multitenant)", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
        ax.set_axis_off()
        return
    users = [p["users"] for p in points]
    ax.plot(users, [p["users_per_s"] for p in points], marker="o", markersize=3, color=COLORS[0],
            label="users imported per second (a lookup, then a POST)")
    ax.set_xlabel(f"users imported into the new org (the statistics do not know it; "
                  f"{tenant.get('memberships', 0):,} memberships in {tenant.get('orgs', 0):,} other orgs)")
    ax.set_ylabel("users/s")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.25)
    latency = ax.twinx()
    latency.plot(users, [p["lookup_p50_ms"] for p in points], color=COLORS[1], linewidth=1,
                 label="lookup p50 ms")
    latency.plot(users, [p["post_p50_ms"] for p in points], color=COLORS[2], linewidth=1, linestyle="--",
                 label="POST p50 ms")
    latency.set_ylabel("ms (median)")
    latency.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = latency.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=7)


def draw(results: dict, path: Path, *, note: str = "") -> Path:
    """Render the figure of one run to `path` (.svg or .png) and copy it to
    results/latest.svg (or .png) beside it."""
    ops = len(_operations(results["rows"])[0])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 3 + 0.45 * ops + 3.2),
                                      gridspec_kw={"height_ratios": [max(ops, 1) * 0.45 + 1, 3]})
    title = (f"Orgdesk SCIM benchmark, {results.get('date', '')}: {results.get('cores')} cores, "
             f"{results.get('seconds_per_op')} s per operation, {results.get('connections')} connections")
    if note:
        title += "\n" + "\n".join(textwrap.wrap(note, 100))
    top.set_title(title, fontsize=10)
    _draw_operations(top, results)
    bottom.set_title("Multi-tenant import: a new org grows without ANALYZE", fontsize=9)
    _draw_multitenant(bottom, results)
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    shutil.copyfile(path, path.with_name(Path(LATEST).stem + path.suffix))
    return path


def main() -> None:
    import json

    source = Path(sys.argv[1])
    results = json.loads(source.read_text())
    print(draw(results, source.with_suffix(".svg"), note=results.get("note", "")))


if __name__ == "__main__":
    main()
