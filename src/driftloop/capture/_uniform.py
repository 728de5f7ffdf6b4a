"""The bulk path of the capture reader: records of the one shape the endpoint writes most.

A block of capture lines is parsed at once; a record is *uniform* when it is a JSON object
whose ``eventMetadata`` holds a whole-second ``inferenceTime``, a text ``eventId`` (and a text
or absent ``inferenceId``), whose ``endpointInput`` is one JSON object of columns (not a list,
not ``instances``/``inputs``/``dataframe_*``) and whose ``endpointOutput`` is absent or a JSON
answer with one prediction. Those are taken here without a function call per field; every other
line is listed in :attr:`Found.others` for the reader's general path, which reads it (and names
its problem) exactly as it reads any line. A uniform record outside the window is skipped, as
the general path skips it: neither used nor counted.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from driftloop.data.spec import TabularSpec

_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SPLIT_KEYS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})
_JSON = "application/json"


@dataclass
class Found:
    """The uniform records of a block, in line order, and the lines left to the general path."""

    others: list[int] = field(default_factory=list)  # block indexes, ascending
    lines: list[int] = field(default_factory=list)  # block index of each uniform record
    meta: list[tuple[str | None, str, str]] = field(default_factory=list)  # ids and time
    proba: list[float] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """Which uniform records come from block lines ``[start, stop)``."""
        return bisect.bisect_left(self.lines, start), bisect.bisect_left(self.lines, stop)


class UniformRecords:
    """Finds and reads the uniform records of blocks of capture lines."""

    def __init__(self, spec: TabularSpec, low: str, high: str) -> None:
        self.low, self.high = low, high
        # A feature named like a split key would change how a body splits: no bulk path then.
        self.enabled = not (_SPLIT_KEYS & set(spec.features))

    def read(self, block: list[bytes]) -> Found:
        if not self.enabled:
            return Found(others=list(range(len(block))))
        found = Found()
        candidates: list[tuple[int, str | None, str, str, str, str | None]] = []
        for index, doc in enumerate(_loads_each(block)):
            taken = self._record(doc)
            if taken is None:
                found.others.append(index)
            elif taken:
                candidates.append((index, *taken))
        bodies = _loads_each([c[4] for c in candidates])
        for candidate, body in zip(candidates, bodies, strict=True):
            index, inference_id, event_id, moment, _, output = candidate
            probability = _probability(output)
            if type(body) is not dict or not _SPLIT_KEYS.isdisjoint(body) or probability is None:
                found.others.append(index)
                continue
            found.lines.append(index)
            found.meta.append((inference_id, event_id, moment))
            found.proba.append(probability)
            found.bodies.append(body)
        found.others.sort()
        return found

    def _record(self, doc: Any) -> tuple[str | None, str, str, str, str | None] | tuple[()] | None:
        """``(inference id, event id, time, request, answer)`` of a uniform record, ``()`` for
        one outside the window, None for a line the general path must read."""
        try:
            meta = doc["eventMetadata"]
            moment = meta["inferenceTime"]
            data = doc["captureData"]
            request = data["endpointInput"]
        except (KeyError, TypeError, IndexError):
            return None
        if type(meta) is not dict or type(moment) is not str or not _SECOND.fullmatch(moment):
            return None
        moment = moment[:19]
        if not self.low <= moment < self.high:
            return ()
        event_id, inference_id = meta.get("eventId"), meta.get("inferenceId")
        if type(event_id) is not str or not (inference_id is None or type(inference_id) is str):
            return None
        body = _json_text(request)
        output = data.get("endpointOutput")
        answer = None if output is None else _json_text(output)
        if body is None or (output is not None and answer is None):
            return None
        return inference_id, event_id, moment, body, answer


def _json_text(payload: Any) -> str | None:
    """The text of a JSON-encoded ``application/json`` payload, else None."""
    if type(payload) is not dict:
        return None
    data = payload.get("data")
    if payload.get("encoding") != "JSON" or payload.get("observedContentType") != _JSON:
        return None
    return data if type(data) is str else None


def _probability(answer: str | None) -> float | None:
    """The one probability of a JSON answer (NaN when there is no answer), None otherwise."""
    if answer is None:
        return math.nan
    try:
        predictions = orjson.loads(answer)["predictions"]
        if type(predictions) is not list or len(predictions) != 1:
            return None
        return float(predictions[0]["probability"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
        return None


def _loads_each(lines: list[Any]) -> list[Any]:
    """Each line parsed, None where it is not JSON."""
    try:
        return list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        docs: list[Any] = []
        for line in lines:
            try:
                docs.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                docs.append(None)
        return docs
