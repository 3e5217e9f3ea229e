"""The numbers of a run: one `Result` per server, rendered as a table per workload, with ratios
to coglet (and to cogkit at the baseline commit, when one ran) and the issue's targets."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    digits: int = 0


@dataclass
class Result:
    """One server's numbers: every sample of every metric (the report shows medians), the
    status counts per workload, and the error that stopped it, if any."""

    server: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None

    def record(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)

    def count(self, workload: str, statuses: dict[str, int]) -> None:
        seen = self.statuses.setdefault(workload, {})
        for status, n in statuses.items():
            seen[status] = seen.get(status, 0) + n

    def value(self, key: str) -> float:
        values = self.samples.get(key)
        return statistics.median(values) if values else math.nan


SECTIONS: dict[str, tuple[str, list[Metric]]] = {
    "latency": (
        "sequential latency, trivial predictor (1 slot)",
        [
            Metric("ready_s", "READY s", 2),
            Metric("p50_us", "p50 µs"),
            Metric("p99_us", "p99 µs"),
            Metric("cpu_us", "server CPU µs/req"),
        ],
    ),
    "memory": (
        "memory, trivial predictor",
        [
            Metric("idle_mib", "idle RSS MiB", 1),
            Metric("after_2000_mib", "RSS after 2,000 MiB", 1),
        ],
    ),
    "throughput": (
        "throughput, async predictor with 8 slots, 8 clients",
        [
            Metric("tp_rps", "2xx/s"),
            Metric("tp_p50_us", "p50 µs"),
            Metric("tp_p99_us", "p99 µs"),
            Metric("tp_cpu_us", "server CPU µs/req"),
        ],
    ),
    "overload": (
        "overload, async predictor with 32 slots, closed-loop clients",
        [
            Metric("ol32_rps", "32 cl. 2xx/s"),
            Metric("ol32_p99_ms", "32 cl. p99 ms", 1),
            Metric("ol32_409_pct", "32 cl. 409 %", 1),
            Metric("ol64_rps", "64 cl. 2xx/s"),
            Metric("ol64_p99_ms", "64 cl. p99 ms", 1),
            Metric("ol64_409_pct", "64 cl. 409 %", 1),
        ],
    ),
    "refusals": ("409 when every slot is busy", [Metric("refusal_cpu_us", "server CPU µs per 409")]),
    **{
        f"streams {pattern} {ack}": (
            f"server-sent events, {what}, {client}",
            [
                Metric(f"{pattern}_{ack}_first_ms", "first token ms (less the predictor's)", 2),
                Metric(f"{pattern}_{ack}_lag_ms", "last token lag ms", 2),
                Metric(f"{pattern}_{ack}_tps", "tokens/s"),
            ],
        )
        for pattern, what in (("burst", "2,000 tokens at once"), ("paced", "200 tokens 5 ms apart"))
        for ack, client in (("ack", "quick-ACK client"), ("plain", "ordinary client"))
    },
    "files": (
        "5 MiB file in and 5 MiB file out as data URIs",
        [
            Metric("file_p50_ms", "p50 ms", 1),
            Metric("file_cpu_ms", "server CPU ms/req", 1),
            Metric("file_idle_mib", "idle MiB"),
            Metric("file_peak_mib", "peak MiB (4 clients)"),
            Metric("file_after_mib", "after burst MiB"),
        ],
    ),
}


def _cell(value: float, digits: int) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def ratio(value: float, base: float) -> str:
    if base != base or value != value or base == 0:  # NaN-safe
        return "-"
    return f"{value / base:.2f}x"


def render(results: list[Result]) -> str:
    """A table per workload that has numbers, then each server's ratios to coglet and, when
    cogkit ran at a baseline commit too, cogkit's ratio to it."""
    lines: list[str] = []
    by = {r.server: r for r in results}
    for workload, (title, metrics) in SECTIONS.items():
        shown = [m for m in metrics if any(r.samples.get(m.key) for r in results)]
        if not shown:
            continue
        rows = [("server", *(m.label for m in shown))]
        rows += [(r.server, *(_cell(r.value(m.key), m.digits) for m in shown)) for r in results]
        for base_name in ("coglet", "cogkit-before"):
            base = by.get(base_name)
            if base is None:
                continue
            for r in results:
                if r is base or (base_name == "cogkit-before" and r.server != "cogkit"):
                    continue
                rows.append(
                    (f"  {r.server}/{base_name}", *(ratio(r.value(m.key), base.value(m.key)) for m in shown))
                )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["", f"{workload}: {title}"]
        lines += ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                  for row in rows]  # fmt: skip
        counts = [
            f"{r.server} {r.statuses[key]}" for r in results if r.statuses.get(key := workload.split()[0])
        ]
        if counts:
            lines.append("  statuses: " + "; ".join(counts))
    for r in results:
        if r.error:
            lines.append(f"{r.server} ERROR: {r.error.splitlines()[0]}")
    return "\n".join(lines)


def verdict(results: list[Result]) -> list[str]:
    """Issue 10's targets for cogkit, each PASS or MISS with the numbers (those that ran)."""
    by = {r.server: r for r in results}
    ours, coglet, before = by.get("cogkit"), by.get("coglet"), by.get("cogkit-before")
    if ours is None or coglet is None:
        return []
    v, c = ours.value, coglet.value
    checks = [
        ("p50 <= 1/2 coglet", v("p50_us") <= c("p50_us") / 2, f"{v('p50_us'):.0f} vs {c('p50_us'):.0f} µs"),
        ("READY <= coglet", v("ready_s") <= c("ready_s"), f"{v('ready_s'):.2f} vs {c('ready_s'):.2f} s"),
        ("rps >= coglet", v("tp_rps") >= c("tp_rps"), f"{v('tp_rps'):.0f} vs {c('tp_rps'):.0f}"),
        ("409 CPU <= coglet", v("refusal_cpu_us") <= c("refusal_cpu_us"),
         f"{v('refusal_cpu_us'):.0f} vs {c('refusal_cpu_us'):.0f} µs"),
        ("1st token <= coglet", v("burst_ack_first_ms") <= c("burst_ack_first_ms"),
         f"{v('burst_ack_first_ms'):.2f} vs {c('burst_ack_first_ms'):.2f} ms (2,000-token burst, quick-ACK)"),
        ("last token <= 5 ms", max(v(f"{p}_{a}_lag_ms") for p in ("burst", "paced") for a in ("ack", "plain")) <= 5,
         "worst " + f"{max(v(f'{p}_{a}_lag_ms') for p in ('burst', 'paced') for a in ('ack', 'plain')):.2f} ms"),
        ("file peak RSS <= coglet", v("file_peak_mib") <= c("file_peak_mib"),
         f"{v('file_peak_mib'):.0f} vs {c('file_peak_mib'):.0f} MiB"),
        ("after burst near idle", v("file_after_mib") <= 1.25 * v("file_idle_mib"),
         f"{v('file_after_mib'):.0f} after vs {v('file_idle_mib'):.0f} MiB idle"),
    ]  # fmt: skip
    if before is not None:
        b = before.value
        checks.append(("file CPU <= 1/2 baseline", v("file_cpu_ms") <= b("file_cpu_ms") / 2,
                       f"{v('file_cpu_ms'):.1f} vs {b('file_cpu_ms'):.1f} ms"))  # fmt: skip
    return [
        f"  {'PASS' if ok else 'MISS'}  {name:24} {detail}"
        for name, ok, detail in checks
        if "nan" not in detail
    ]
