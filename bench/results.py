"""Results of the gateway bench: the table (contender × mix), the target checks and the ratios line.

Owns presentation and the ratio arithmetic only. Every ratio compares two rows of the same run:
`x nginx` divides by the plain nginx proxy with the same number of workers, `x envoy` by Envoy with
the same workers and token mix. The last line printed is always
`ratios: mix/envoy=… mix/nginx=… fresh/envoy=… same/envoy=… mix_w2/nginx2=…` (`n/a` where a row is
missing).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import wrk_driver

NA = "n/a"
# The targets, as ratios from the same run: (label, numerator row, denominator row, minimum).
TARGETS = (
    ("mix/envoy", ("meshgate", 1, "mix"), ("envoy", 1, "mix"), 3.5),
    ("mix/nginx", ("meshgate", 1, "mix"), ("nginx", 1, "mix"), 0.45),
    ("fresh/envoy", ("meshgate", 1, "fresh"), ("envoy", 1, "fresh"), 1.3),
    ("same/envoy", ("meshgate", 1, "same"), ("envoy", 1, "same"), 3.0),
    ("mix_w2/nginx2", ("meshgate", 2, "mix"), ("nginx", 2, "mix"), 0.45),
    ("h2mix/envoy", ("meshgate", 1, "h2mix"), ("envoy", 1, "h2mix"), 2.0),  # issue 14: HTTP/2 (h2load)
    # issue 13: routing as the ingress adds at most 10 % CPU per request (CPU-bound on one core: 1/1.1)
    ("routes/mix", ("meshgate-routes", 1, "mix"), ("meshgate", 1, "mix"), 0.909),
)
P99_MIXES = ("mix", "fresh", "same")
Key = tuple[str, int, str]


@dataclass(frozen=True)
class Row:
    contender: str
    workers: int
    mix: str
    result: wrk_driver.WrkResult | None
    note: str = ""

    @property
    def key(self) -> Key:
        return (self.contender, self.workers, self.mix)


def median_rows(rounds: list[list[Row]]) -> list[Row]:
    """Each row's median run across rounds (by req/s), noting the spread; a row missing everywhere stays missing.

    On a shared 2-core box one 10 s sample moves by ±15%; interleaved rounds and the median make the
    ratios a statement about the contenders rather than about the neighbours.
    """
    if len(rounds) == 1:
        return rounds[0]
    merged: list[Row] = []
    for first in rounds[0]:
        runs = [row for one in rounds for row in one if row.key == first.key]
        measured = sorted(
            (row for row in runs if row.result is not None), key=lambda r: r.result.rps if r.result else 0
        )
        if not measured:
            merged.append(first)
            continue
        middle = measured[(len(measured) - 1) // 2]
        low, high = (measured[0].result, measured[-1].result)
        assert low is not None and high is not None
        spread = f"median of {len(measured)}: {low.rps:.0f}-{high.rps:.0f} req/s"
        merged.append(
            Row(
                middle.contender,
                middle.workers,
                middle.mix,
                middle.result,
                f"{spread}; {middle.note}".rstrip("; "),
            )
        )
    return merged


def _find(rows: list[Row], key: Key) -> wrk_driver.WrkResult | None:
    for row in rows:
        if row.key == key:
            return row.result
    return None


def ratio(rows: list[Row], top: Key, bottom: Key) -> float | None:
    a, b = _find(rows, top), _find(rows, bottom)
    if a is None or b is None or b.rps <= 0:
        return None
    return a.rps / b.rps


def _fmt(value: float | None, digits: int = 2) -> str:
    return NA if value is None else f"{value:.{digits}f}"


def table(rows: list[Row]) -> list[str]:
    head = f"{'contender':<10} {'workers':>7} {'mix':<7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    head += f" {'x nginx':>8} {'x envoy':>8} {'non-2xx':>8} {'sock err':>8}  note"
    lines = [head, "-" * len(head)]
    for row in rows:
        r = row.result
        workers = "-" if row.contender == "direct" else str(row.workers)
        if r is None:
            lines.append(f"{row.contender:<10} {workers:>7} {row.mix:<7} {NA:>9}  {row.note}")
            continue
        x_nginx = ratio(rows, row.key, ("nginx", row.workers, "mix"))
        x_envoy = ratio(rows, row.key, ("envoy", row.workers, row.mix))
        lines.append(
            f"{row.contender:<10} {workers:>7} {row.mix:<7} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
            f" {_fmt(x_nginx):>8} {_fmt(x_envoy):>8} {r.non2xx:>8} {r.socket_errors:>8}  {row.note}".rstrip()
        )
    return lines


def target_lines(rows: list[Row]) -> list[str]:
    """One line per issue target: value, bound, ok/MISS; plus meshgate's p99 against Envoy's."""
    lines = []
    for label, top, bottom, minimum in TARGETS:
        value = ratio(rows, top, bottom)
        verdict = NA if value is None else ("ok" if value >= minimum else "MISS")
        lines.append(f"target {label:<13} {_fmt(value):>6} >= {minimum:<5} {verdict}")
    for mix in P99_MIXES:
        ours, envoy = _find(rows, ("meshgate", 1, mix)), _find(rows, ("envoy", 1, mix))
        if ours is None or envoy is None:
            lines.append(f"target p99 {mix:<9} {NA}")
            continue
        verdict = "ok" if ours.p99_ms <= envoy.p99_ms else "MISS"
        lines.append(
            f"target p99 {mix:<9} meshgate {ours.p99_ms:.2f} ms <= envoy {envoy.p99_ms:.2f} ms {verdict}"
        )
    return lines


def ratios_line(rows: list[Row]) -> str:
    """The bench's last line, parsed by people and scripts alike."""
    parts = [f"{label}={_fmt(ratio(rows, top, bottom))}" for label, top, bottom, _ in TARGETS]
    return "ratios: " + " ".join(parts)
