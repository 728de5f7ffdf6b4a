"""Hours in the capture and ground-truth layouts: ``YYYY/MM/DD/HH`` folders on disk, the same
text as S3 key prefixes. Shared by the folder and the S3 stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

_HOUR = timedelta(hours=1)


def utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime (naive values are taken to be UTC)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def hour_folders(
    folder: Path, since: datetime | None, until: datetime | None, parts: tuple[int, ...] = ()
) -> Iterator[Path]:
    """``YYYY/MM/DD/HH`` folders under ``folder`` overlapping ``[since, until)``, in time order.

    Shared by the capture and the ground-truth layouts; ``None`` leaves that side open.
    """
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        span = _span((*parts, int(child.name)))
        if span is None or (since and span[1] <= since) or (until and span[0] >= until):
            continue
        if len(parts) == 3:
            yield child
        else:
            yield from hour_folders(child, since, until, (*parts, int(child.name)))


def hour_of(when: datetime) -> str:
    """The ``YYYY/MM/DD/HH`` folder (UTC) of ``when``."""
    return f"{utc(when):%Y/%m/%d/%H}"


def hour_prefixes(since: datetime, until: datetime) -> Iterator[str]:
    """``YYYY/MM/DD/HH`` of every hour overlapping ``[since, until)``, in time order."""
    since, until = utc(since), utc(until)
    hour = since.replace(minute=0, second=0, microsecond=0)
    while hour < until and since < until:
        yield hour_of(hour)
        hour += _HOUR


def hour_files(names: Iterable[str], since: datetime | None) -> Iterator[str]:
    """The ``YYYY/MM/DD/HH/<file>.jsonl`` names among ``names`` whose hour ends after ``since``
    (every hour when None), as :func:`hour_folders` would find them."""
    for name in names:
        parts = name.split("/")
        if len(parts) != 5 or not parts[4].endswith(".jsonl"):
            continue
        span = _span(tuple(int(p) for p in parts[:4])) if all(map(str.isdigit, parts[:4])) else None
        if span is not None and (since is None or span[1] > utc(since)):
            yield name


def _span(parts: tuple[int, ...]) -> tuple[datetime, datetime] | None:
    """The time range a (year[, month[, day[, hour]]]) folder covers; None if not a date."""
    year, month, day, hour = parts + (1, 1, 0)[len(parts) - 1 :]
    try:
        start = datetime(year, month, day, hour, tzinfo=UTC)
        if len(parts) == 1:
            return start, start.replace(year=year + 1)
        if len(parts) == 2:
            return start, (start + timedelta(days=32)).replace(day=1)
        return start, start + (timedelta(days=1) if len(parts) == 3 else _HOUR)
    except (ValueError, OverflowError):
        return None
