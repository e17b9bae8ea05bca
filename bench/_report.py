"""The report: a table, the ours-vs-LangGraph ratios, JSON lines, and a plot."""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

# (header, result key, format); a missing or None value prints as "-".
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("system", "system", "{}"),
    ("C", "c", "{}"),
    ("turns", "turns", "{}"),
    ("turns/s", "turns_per_s", "{:.1f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("CPU ms/turn", "cpu_ms_per_turn", "{:.2f}"),
    ("cmds/turn", "redis_cmds_per_turn", "{:.1f}"),
    ("RTs/turn", "redis_round_trips_per_turn", "{:.2f}"),
    ("reads/turn", "redis_reads_per_turn", "{:.2f}"),
    ("redis B/turn", "redis_mem_bytes_per_turn", "{:.0f}"),
    ("redis CPU ms/turn", "redis_cpu_ms_per_turn", "{:.2f}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("errors", "errors", "{}"),
    ("tracing", "tracing", "{}"),
    ("spans/turn", "spans_per_turn", "{:.1f}"),
    ("load", "load_avg_1m", "{:.1f}"),
    ("check", "check", "{}"),
    ("cold import ms", "cold_import_ms", "{:.0f}"),
    ("cold setup ms", "cold_setup_ms", "{:.0f}"),
    ("cold 1st turn ms", "cold_first_turn_ms", "{:.1f}"),
    ("cold import CPU ms", "cold_import_cpu_ms", "{:.0f}"),
    ("cold 1st turn CPU ms", "cold_first_turn_cpu_ms", "{:.1f}"),
)

# (ours, theirs) pairs compared per C when both ran.
PAIRS = (("ours-redis", "langgraph"), ("ours-memory", "langgraph-memory"))


def _cell(result: dict[str, Any], key: str, fmt: str) -> str:
    if key == "check":
        return (
            "ok" if result.get("ok") else "WRONG" if result.get("wrong") else "FAILED"
        )
    value = result.get(key)
    return "-" if value is None else fmt.format(value)


def table(results: Sequence[dict[str, Any]]) -> str:
    """Aligned text table, one row per run."""
    rows = [[h for h, _, _ in COLUMNS]]
    rows += [[_cell(r, key, fmt) for _, key, fmt in COLUMNS] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def medians(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (system, C): its median run by turns/s, ``ok`` only if every run was.

    With one run per (system, C) this is ``results`` in the same order.
    """
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["system"], r["c"]), []).append(r)
    rows = []
    for runs in groups.values():
        if len(runs) == 1:
            rows.append(runs[0])
            continue
        ranked = sorted(runs, key=lambda r: r.get("turns_per_s") or 0.0)
        row = dict(ranked[(len(ranked) - 1) // 2])
        row["ok"] = all(r.get("ok") for r in runs)
        row["turns_per_s_runs"] = [r.get("turns_per_s") for r in runs]
        row["problems"] = [p for r in runs for p in r.get("problems", [])][:5]
        rows.append(row)
    return rows


def _ratio(a: Any, b: Any) -> str:
    return (
        f"{a / b:.2f}x"
        if isinstance(a, int | float) and isinstance(b, int | float) and b
        else "-"
    )


def ratios(results: Sequence[dict[str, Any]]) -> list[str]:
    """One line per C and pair of systems that both ran: ours / theirs."""
    by = {(r["system"], r["c"]): r for r in results}
    lines = []
    for ours, theirs in PAIRS:
        for c in sorted({r["c"] for r in results}):
            a, b = by.get((ours, c)), by.get((theirs, c))
            if a and b:
                lines.append(
                    f"C={c:<5} {ours} / {theirs}: turns/s {_ratio(a.get('turns_per_s'), b.get('turns_per_s'))}"
                    f"  p99 {_ratio(a.get('p99_ms'), b.get('p99_ms'))}"
                    f"  CPU/turn {_ratio(a.get('cpu_ms_per_turn'), b.get('cpu_ms_per_turn'))}"
                    f"  cmds/turn {_ratio(a.get('redis_cmds_per_turn'), b.get('redis_cmds_per_turn'))}"
                )
    return lines


def problems(results: Sequence[dict[str, Any]]) -> list[str]:
    """What went wrong, a few lines per failed run."""
    return [
        f"{r['system']} C={r['c']}: {p}"
        for r in results
        if not r.get("ok")
        for p in r.get("problems", [])
    ]


def json_lines(results: Sequence[dict[str, Any]], out: IO[str]) -> None:
    """One JSON object per run."""
    for r in results:
        out.write(json.dumps(r, sort_keys=True) + "\n")


def plot(results: Sequence[dict[str, Any]], path: str) -> None:
    """turns/s and p99 against C, one line per system (needs matplotlib: the bench extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system in dict.fromkeys(r["system"] for r in results):
        rows = sorted(
            (r for r in results if r["system"] == system and r.get("turns_per_s")),
            key=lambda r: r["c"],
        )
        cs = [r["c"] for r in rows]
        left.plot(cs, [r["turns_per_s"] for r in rows], marker="o", label=system)
        right.plot(cs, [r["p99_ms"] for r in rows], marker="o", label=system)
    for ax, title in ((left, "throughput (turns/s)"), (right, "p99 turn latency (ms)")):
        ax.set_xscale("log")
        ax.set_xlabel("concurrent conversations C")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    ticks = sorted({r["c"] for r in results})
    for ax in (left, right):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_xticks(ticks, [str(c) for c in ticks])
        ax.minorticks_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
