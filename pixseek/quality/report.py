"""An eval's report as a terminal table and as Recall@K curves (matplotlib, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixseek.quality.evaluate import Report

COLUMNS = ("R@1", "R@5", "R@10", "R@100", "mAP", "mAP@100", "P@10", "MRR", "nDCG@10")


def table(report: Report) -> str:
    """One row per configuration (overall figures, latency, RAM per vector), then Recall@1
    and mAP per group (transform) for each configuration, then the duplicate figures."""
    lines = [
        f"{report.name}: {report.corpus} pictures searched, {report.queries} queries",
        "",
        _row(["configuration", *COLUMNS, "p50 ms", "p99 ms", "B/vec"], width=44),
    ]
    for outcome in report.outcomes:
        figures = [f"{outcome.overall[c]:.3f}" for c in COLUMNS]
        latency = [f"{outcome.latency_ms['p50']:.1f}", f"{outcome.latency_ms['p99']:.1f}"]
        ram = f"{outcome.ram_bytes_per_vector:.0f}"
        lines.append(_row([outcome.configuration.label, *figures, *latency, ram], width=44))
    groups = sorted({g for o in report.outcomes for g in o.by_group})
    if len(groups) > 1:
        lines += ["", "Recall@1 / mAP by group", _row(["configuration", *groups], width=44)]
        for outcome in report.outcomes:
            cells = [_pair(outcome.by_group.get(g)) for g in groups]
            lines.append(_row([outcome.configuration.label, *cells], width=44))
    if duplicates := report.extra.get("duplicates"):
        lines += ["", *_duplicate_lines(duplicates)]
    return "\n".join(lines)


def _pair(figures: dict[str, float] | None) -> str:
    return f"{figures['R@1']:.2f}/{figures['mAP']:.2f}" if figures else "-"


def _row(cells: list[str], width: int) -> str:
    first, rest = cells[0], cells[1:]
    return f"{first:<{width}} " + " ".join(f"{c:>9}" for c in rest)


def _duplicate_lines(figures: dict[str, Any]) -> list[str]:
    lines = [
        f"Duplicate pairs at {figures['thresholds']} "
        f"({figures['pairs']['true']} true, {figures['pairs']['distinct']} distinct)"
    ]
    for name, found in figures["signals"].items():
        by_transform = ", ".join(f"{t} {r:.2f}" for t, r in found["recall_by_transform"].items())
        lines.append(
            f"  {name:<9} precision {found['precision']:.3f} recall {found['recall']:.3f} "
            f"false pairs {found['false_pairs']}; recall by transform: {by_transform}"
        )
    lines.append(f"  thresholds for precision >= 0.99 on this set: {figures['suggested']}")
    return lines


def plot(report: Report, path: Path) -> None:
    """Recall@K curves, one line per configuration, into a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 5.5), dpi=110)
    try:
        for outcome in report.outcomes:
            ks = sorted(outcome.curve)
            axes.plot(ks, [outcome.curve[k] for k in ks], marker="o", markersize=3,
                      label=outcome.configuration.label)  # fmt: skip
        axes.set_xscale("log")
        axes.set_xlabel("K")
        axes.set_ylabel("Recall@K")
        axes.set_ylim(0, 1.02)
        axes.set_title(f"{report.name}: {report.queries} queries, {report.corpus} pictures")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7, loc="lower right")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        pyplot.close(figure)
