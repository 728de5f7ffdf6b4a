"""The bulk path of the capture reader: records of the one shape the endpoint writes most,
read column-wise.

A block of capture lines is parsed at once by Arrow's JSON reader (C++, threads of its own),
then the request bodies of its records, then their answers, each into columns, so no Python
object is made per record or per value. A record is *uniform* when it is a JSON object whose
``eventMetadata`` holds a whole-second ``inferenceTime``, a text ``eventId`` (and a text or
absent ``inferenceId``), whose ``endpointInput`` is one JSON object of exactly the features
(plus other columns the spec knows) with numbers in numeric features and text in the others,
and whose ``endpointOutput`` is absent or a JSON answer with one probability. Those are typed
here straight into numpy; every other line is listed in :attr:`Found.others` for the reader's
general path, which reads it (and names its problem) exactly as it reads any line. A uniform
record outside the window is skipped, as the general path skips it: neither used nor counted.

Arrow refuses a piece as a whole (a torn line, a value of another type): a refused piece is
halved until the refused lines are few, and those go to the general path, so a bad line costs
its neighbours a second parse, never their bulk reading.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from driftloop.data.spec import TabularSpec

FEW = 16  # a refused piece of at most this many lines (or bodies) goes to the general path
_SECOND = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
_SPLIT_KEYS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})
_JSON = "application/json"
_BOM = b"\xef\xbb\xbf"  # Arrow skips it, orjson refuses it: such a piece goes line by line
_PAYLOAD = pa.struct(
    [("observedContentType", pa.string()), ("encoding", pa.string()), ("data", pa.string())]
)
_RECORD = pa.schema(
    [
        ("captureData", pa.struct([("endpointInput", _PAYLOAD), ("endpointOutput", _PAYLOAD)])),
        (
            "eventMetadata",
            pa.struct(
                [
                    ("eventId", pa.string()),
                    ("inferenceTime", pa.string()),
                    ("inferenceId", pa.string()),
                ]
            ),
        ),
    ]
)
# Arrow parses blocks of this size on its own threads (one per core)
_READ = pj.ReadOptions(use_threads=True, block_size=1 << 20)
_ANSWER = pa.schema([("predictions", pa.list_(pa.struct([("probability", pa.float64())])))])


class _Refused(Exception):
    """Arrow did not read a piece as one row per line."""


@dataclass
class Found:
    """The uniform records of a block, in line order, and the lines left to the general path."""

    others: list[int] = field(default_factory=list)  # block line indexes, ascending
    lines: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    inference_ids: list[str | None] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    times: np.ndarray = field(default_factory=lambda: np.empty(0, "datetime64[s]"))
    proba: np.ndarray = field(default_factory=lambda: np.empty(0))
    numeric: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    texts: list[np.ndarray] = field(default_factory=list)  # typed text or None, per feature

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """Which uniform records come from block lines ``[start, stop)``."""
        low, high = np.searchsorted(self.lines, [start, stop])
        return int(low), int(high)


class UniformRecords:
    """Finds and reads the uniform records of blocks of capture lines."""

    def __init__(self, spec: TabularSpec, low: str, high: str) -> None:
        self.low, self.high = low, high
        self.numeric, self.categorical = spec.numeric_features, spec.categorical_features
        self.features = frozenset(spec.features)
        self.known = frozenset(c.name for c in spec.columns)
        # A feature named like a split key would change how a body splits: no bulk path then.
        self.enabled = not (_SPLIT_KEYS & set(spec.features))
        # text features are inferred: the endpoint takes numbers there too (as their text)
        self.body_options = _options(pa.schema([(n, pa.float64()) for n in self.numeric]), "infer")
        self.record_options = _options(_RECORD, "ignore")
        self.answer_options = _options(_ANSWER, "ignore")
        self.texts: list[dict[Any, str | None]] = [{} for _ in self.categorical]

    def read(self, block: bytes, count: int) -> Found:
        """The uniform records among the ``count`` lines of ``block`` (each ends in a newline)."""
        if not self.enabled or count == 0:
            return Found(others=list(range(count)))
        bom = _BOM[:1] in block and _BOM in block  # one byte is found far faster
        ends: np.ndarray | None = None  # line ends, found only when a piece is refused

        def parse(start: int, stop: int) -> pa.Table:
            nonlocal ends
            piece = block
            if stop - start != count:
                if ends is None:
                    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
                piece = block[ends[start - 1] + 1 if start else 0 : ends[stop - 1] + 1]
            if bom and _BOM in piece:
                raise _Refused
            return _read(piece, stop - start, self.record_options)

        found = [
            Found(others=list(range(start, stop))) if table is None else self._records(table, start)
            for start, stop, table in _pieces(count, parse)
        ]
        return _joined(found, len(self.categorical))

    def _records(self, table: pa.Table, first: int) -> Found:
        data = table.column("captureData").combine_chunks()
        meta = table.column("eventMetadata").combine_chunks()
        moment = pc.struct_field(meta, "inferenceTime")
        whole = _mask(pc.match_substring_regex(moment, _SECOND))
        second = pc.utf8_slice_codeunits(moment, 0, 19)
        inside = whole & _mask(pc.greater_equal(second, self.low))
        inside &= _mask(pc.less(second, self.high))
        request = pc.struct_field(data, "endpointInput")
        answer = pc.struct_field(data, "endpointOutput")
        no_answer = _mask(pc.is_null(answer))
        usable = inside & _mask(pc.is_valid(pc.struct_field(meta, "eventId")))
        usable &= _json_text(request) & (no_answer | _json_text(answer))
        # whole seconds outside the window: skipped, like the general path skips them
        others = np.flatnonzero(~usable & ~(whole & ~inside))
        rows = np.flatnonzero(usable)
        bodies = _take(pc.struct_field(request, "data"), rows)
        typed = self._bodies(bodies)
        answers = _take(pc.struct_field(answer, "data"), rows)
        proba, answered = self._answers(answers, no_answer[rows])
        good = typed[0] & answered
        taken = rows[good]
        others = np.sort(np.r_[others, rows[~good]])
        times = pc.cast(_take(second, taken), pa.timestamp("s")).to_numpy(zero_copy_only=False)
        return Found(
            others=(others + first).tolist(),
            lines=taken + first,
            inference_ids=_take(pc.struct_field(meta, "inferenceId"), taken).to_pylist(),
            event_ids=_take(pc.struct_field(meta, "eventId"), taken).to_pylist(),
            times=times.astype("datetime64[s]"),
            proba=proba[good],
            numeric=typed[1][good],
            texts=[column[good] for column in typed[2]],
        )

    def _bodies(self, bodies: pa.Array) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Which bodies are uniform, and their typed numeric and text columns."""
        n = len(bodies)
        ok = _framed(bodies)
        numeric = np.full((n, len(self.numeric)), np.nan)
        texts = [np.full(n, None, dtype=object) for _ in self.categorical]
        rows = np.flatnonzero(ok)
        chosen = _take(bodies, rows)

        def parse(start: int, stop: int) -> pa.Table:
            return _read(
                _lines_of(chosen.slice(start, stop - start)), stop - start, self.body_options
            )

        ok[:] = False
        for start, stop, table in _pieces(len(rows), parse):
            if table is None:
                continue
            at = rows[start:stop]
            good = self._checked(table, chosen.slice(start, stop - start))
            for j, name in enumerate(self.numeric):
                numeric[at, j] = table.column(name).to_numpy()
            good &= ~np.isinf(numeric[at]).any(axis=1)
            for column, name, lookup in zip(texts, self.categorical, self.texts, strict=True):
                if name not in table.column_names:
                    good[:] = False  # a missing column: each record's problem
                    continue
                column[at], typed = _typed_text(table.column(name), lookup)
                good &= typed
            ok[at] = good
        return ok, numeric, texts

    def _checked(self, table: pa.Table, bodies: pa.Array) -> np.ndarray:
        """Rows whose keys are surely the features plus known columns: a null could be a
        missing key, so rows with one are checked key by key."""
        n = table.num_rows
        good = np.ones(n, dtype=bool)
        unknown = [name for name in table.column_names if name not in self.known]
        for name in unknown:
            good &= _mask(pc.is_null(table.column(name)))
        suspect = np.zeros(n, dtype=bool)
        for name in table.column_names:
            suspect |= _mask(pc.is_null(table.column(name)))
        for row in np.flatnonzero(suspect & good):
            good[row] = self._exact_keys(bodies[int(row)].as_py())
        return good

    def _exact_keys(self, body: str) -> bool:
        try:
            keys = set(orjson.loads(body))
        except orjson.JSONDecodeError:
            return False
        return self.features <= keys <= self.known

    def _answers(self, answers: pa.Array, none: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The one probability of each answer (NaN where there is none), and which are readable."""
        n = len(answers)
        proba = np.full(n, np.nan)
        ok = none.copy()
        rows = np.flatnonzero(~none & _framed(answers))
        chosen = _take(answers, rows)

        def parse(start: int, stop: int) -> pa.Table:
            return _read(
                _lines_of(chosen.slice(start, stop - start)), stop - start, self.answer_options
            )

        for start, stop, table in _pieces(len(rows), parse):
            if table is None:
                continue
            predictions = table.column("predictions").combine_chunks()
            single = _mask(pc.equal(pc.list_value_length(predictions), 1))
            at = rows[start:stop][single]
            first = pc.list_flatten(predictions.filter(pa.array(single)))
            values = pc.struct_field(first, "probability")
            present = _mask(pc.is_valid(values))
            proba[at] = values.to_numpy(zero_copy_only=False)
            ok[at[present]] = True
        return proba, ok


def _options(schema: pa.Schema, unexpected: str) -> pj.ParseOptions:
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior=unexpected)


def _read(lines: bytes | pa.Buffer, count: int, options: pj.ParseOptions) -> pa.Table:
    """``count`` newline-ended JSON lines as one table row each, or :class:`_Refused`."""
    try:
        table = pj.read_json(pa.BufferReader(lines), read_options=_READ, parse_options=options)
    except (pa.ArrowException, ValueError) as exc:
        raise _Refused from exc
    if table.num_rows != count:
        raise _Refused
    return table


def _pieces(
    count: int, parse: Callable[[int, int], pa.Table]
) -> list[tuple[int, int, pa.Table | None]]:
    """``parse`` of items ``[0, count)``; a refused piece is halved until it holds at most
    :data:`FEW` items, left unparsed (None). Pieces come in item order."""
    done: list[tuple[int, int, pa.Table | None]] = []
    todo = [(0, count)] if count else []
    while todo:
        start, stop = todo.pop()
        try:
            done.append((start, stop, parse(start, stop)))
        except _Refused:
            if stop - start <= FEW:
                done.append((start, stop, None))
            else:
                middle = (start + stop) // 2
                todo += [(middle, stop), (start, middle)]
    return done


def _take(array: pa.Array, rows: np.ndarray) -> pa.Array:
    """``array``'s items at ``rows`` (ascending): the array itself, uncopied, when that is all."""
    return array if len(rows) == len(array) else array.take(rows)


def _mask(values: Any) -> np.ndarray:
    """A boolean Arrow array as numpy, null as False."""
    filled = pc.fill_null(values, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def _json_text(payload: pa.Array) -> np.ndarray:
    """Payloads that are JSON text declared ``application/json`` (null payloads: False)."""
    json = pc.and_(
        pc.equal(pc.struct_field(payload, "encoding"), "JSON"),
        pc.equal(pc.struct_field(payload, "observedContentType"), _JSON),
    )
    return _mask(pc.and_(json, pc.is_valid(pc.struct_field(payload, "data"))))


def _framed(texts: pa.Array) -> np.ndarray:
    """Texts that open with ``{``, close with ``}`` and hold no line break: one JSON object
    per line at most, so a piece of them that reads as one row per line is one row each."""
    framed = _mask(pc.and_(pc.starts_with(texts, "{"), pc.ends_with(texts, "}")))
    if _has_breaks(texts):  # rare: only then is each text searched
        breaks = pc.or_(pc.match_substring(texts, "\n"), pc.match_substring(texts, "\r"))
        framed &= ~_mask(breaks)
    return framed


def _has_breaks(texts: pa.Array) -> bool:
    """Whether any of ``texts`` holds a line break: one search of their bytes at once."""
    data = _data_of(texts)[0].tobytes()
    return b"\n" in data or b"\r" in data


def _data_of(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of ``texts`` end to end, and the offsets of the texts in the array's buffer
    (the first at ``offsets[0]``, the end at ``offsets[-1]``)."""
    if len(texts) == 0 or texts.buffers()[2] is None:
        return np.empty(0, np.uint8), np.zeros(1, np.int64)
    wide = pa.types.is_large_string(texts.type)
    offsets = np.frombuffer(texts.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[texts.offset : texts.offset + len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets


def _lines_of(texts: pa.Array) -> pa.Buffer:
    """Non-null texts as newline-ended lines of one buffer (Arrow appends the newlines)."""
    if len(texts) == 0:
        return pa.py_buffer(b"")
    end, newline = pa.scalar("", texts.type), pa.scalar("\n", texts.type)
    lines = pc.binary_join_element_wise(texts, end, newline)  # each text, a newline, ""
    data, _offsets = _data_of(lines)
    return pa.py_buffer(data)


def _typed_text(
    column: pa.ChunkedArray, lookup: dict[Any, str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """A text feature typed as the endpoint types it, one shared object per distinct value,
    and which rows are typed here: text (stripped, blank = None), whole numbers (their
    digits), null; a fraction only when it is not whole (a whole ``1.0`` and ``1`` read
    alike here but not to the endpoint), anything else never."""
    array = column.combine_chunks()
    kind = array.type
    if pa.types.is_null(kind):
        return np.full(len(array), None, dtype=object), np.ones(len(array), dtype=bool)
    encoded = array.dictionary_encode()
    values = encoded.dictionary.to_pylist()
    if pa.types.is_string(kind):
        usable = [True] * len(values)
    elif pa.types.is_int64(kind):
        usable = [True] * len(values)
        values = [str(v) for v in values]
    elif pa.types.is_float64(kind):
        usable = [math.isfinite(v) and not v.is_integer() for v in values]
        values = [f"{v:g}" for v in values]
    else:
        usable, values = [False] * len(values), [""] * len(values)
    typed = np.array([*(_text(v, lookup) for v in values), None], dtype=object)
    codes = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)
    result: np.ndarray = typed[codes]
    return result, np.array([*usable, True], dtype=bool)[codes]


def _text(value: str, lookup: dict[Any, str | None]) -> str | None:
    if value not in lookup:
        lookup[value] = value.strip() or None
    return lookup[value]


def _joined(parts: list[Found], texts: int) -> Found:
    """Founds of consecutive pieces of a block as one, in line order."""
    if len(parts) == 1:
        return parts[0]
    taken = [p for p in parts if len(p.lines)]
    joined = Found(others=sorted(i for p in parts for i in p.others))
    if not taken:
        return joined
    joined.lines = np.concatenate([p.lines for p in taken])
    joined.inference_ids = [i for p in taken for i in p.inference_ids]
    joined.event_ids = [i for p in taken for i in p.event_ids]
    joined.times = np.concatenate([p.times for p in taken])
    joined.proba = np.concatenate([p.proba for p in taken])
    joined.numeric = np.concatenate([p.numeric for p in taken])
    joined.texts = [np.concatenate([p.texts[j] for p in taken]) for j in range(texts)]
    return joined
