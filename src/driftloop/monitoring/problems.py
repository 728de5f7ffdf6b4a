"""The input problems of a window in bounded memory: exact counts, the first few in full.

A window of millions of lines may hold millions of bad ones. :class:`ProblemLog` counts every
problem by kind and by file, and keeps the first :data:`LISTED_PER_FILE` of each file (by line)
with their reasons; ``run.json`` lists those and says how many more each file holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from driftloop.capture.reader import Problem

LISTED_PER_FILE = 20  # problems kept in full per capture file; the others are counted


def problem_kind(reason: str) -> str:
    """A problem's reason without its specifics (row numbers, values), for counting kinds."""
    return reason.split(":")[0]


class ProblemLog:
    """Every problem counted by kind and file; the first ``per_file`` of each file kept."""

    def __init__(self, per_file: int = LISTED_PER_FILE) -> None:
        self.per_file = per_file
        self.total = 0
        self.kinds: Counter[str] = Counter()
        self.files: Counter[str] = Counter()
        self.listed: dict[str, list[Problem]] = {}

    def add(self, problems: Iterable[Problem]) -> None:
        """Problems that come after those added so far (in window order)."""
        for problem in problems:
            self.total += 1
            self.kinds[problem_kind(problem.reason)] += 1
            self.files[problem.file] += 1
            kept = self.listed.setdefault(problem.file, [])
            if len(kept) < self.per_file:
                kept.append(problem)

    def merge(self, other: ProblemLog) -> None:
        """Add the log of the part of the window that follows this one's."""
        self.total += other.total
        self.kinds.update(other.kinds)
        self.files.update(other.files)
        for file, problems in other.listed.items():
            kept = self.listed.setdefault(file, [])
            kept += problems[: self.per_file - len(kept)]

    def examples(self) -> list[Problem]:
        """The kept problems, by file then line."""
        return sorted(
            (p for kept in self.listed.values() for p in kept), key=lambda p: (p.file, p.line)
        )

    def to_dict(self) -> dict[str, Any]:
        """``run.json``'s account: the total, counts by kind and by file, the kept ones."""
        return {
            "problems": self.total,
            "problem_kinds": dict(self.kinds.most_common()),
            "problem_files": [
                {
                    "file": file,
                    "problems": count,
                    "listed": len(self.listed.get(file, [])),
                    "and_more": count - len(self.listed.get(file, [])),
                }
                for file, count in sorted(self.files.items())
            ],
            "problem_list": [asdict(p) for p in self.examples()],
        }
