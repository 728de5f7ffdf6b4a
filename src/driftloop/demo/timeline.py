"""The demo's timeline as a PNG: answers per second by variant and client latency, with the
story's moments (drift, alarm, deployment steps) marked."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np

from driftloop.demo.traffic import Answer


def draw_timeline(
    answers: Sequence[Answer], marks: Sequence[tuple[float, str]], path: Path
) -> Path:
    """Two panels over the demo's seconds: requests per variant, then p50/p99 latency (ms)."""
    if not answers:
        raise ValueError("no answers to draw")
    start = min(a.at for a in answers)
    seconds = [int(a.at - start) for a in answers]
    per_variant: dict[str, Counter[int]] = defaultdict(Counter)
    latency: dict[int, list[float]] = defaultdict(list)
    for second, answer in zip(seconds, answers, strict=True):
        per_variant[answer.variant or f"HTTP {answer.status}"][second] += 1
        latency[second].append(answer.seconds * 1000)
    axis = np.arange(max(seconds) + 1)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for variant, counts in sorted(per_variant.items()):
        top.plot(axis, [counts.get(int(s), 0) for s in axis], label=variant, linewidth=1)
    top.set_ylabel("answers / s")
    top.legend(loc="upper left", fontsize=8)
    busy = sorted(latency)
    for rank in (50, 99):
        values = [np.percentile(latency[s], rank) for s in busy]
        bottom.plot(busy, values, label=f"p{rank}", linewidth=1)
    bottom.set_yscale("log")
    bottom.set_ylabel("client latency (ms)")
    bottom.set_xlabel("seconds since the first request")
    bottom.legend(loc="upper left", fontsize=8)
    for n, (at, label) in enumerate(sorted(marks)):
        for panel in (top, bottom):
            panel.axvline(at - start, color="grey", linestyle=":", linewidth=0.8)
        height = 0.98 - 0.3 * (n % 3)  # staggered, so marks a second apart stay readable
        top.annotate(label, (at - start, height), xycoords=("data", "axes fraction"),
                     rotation=90, fontsize=7, va="top", ha="right")  # fmt: skip
    figure.suptitle("driftloop demo: traffic by variant and latency")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
