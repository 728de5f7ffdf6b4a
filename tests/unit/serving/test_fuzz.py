"""Generated requests against the endpoint app in-process, around a real fitted pipeline.

Every answer is a 200 or a 4xx in the error envelope, never a 5xx or a hung request, and the
app answers a valid request afterwards. The examples are derandomized, so every run sends the
same requests; ``SENT`` counts them and a last test checks the total.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.capture.labels import record_labels, store_labels
from driftloop.capture.writer import CaptureWriter
from driftloop.data.codecs import RowReader
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.compiled import PipelinePredictor
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.models import ServedModel, predictor_for
from driftloop.serving.routing import Route
from driftloop.training.candidates import build
from tests.serving_fakes import SPEC, table

T = TypeVar("T")
TIMEOUT_S = 10.0  # per request: a hung request fails its example
SENT: Counter[str] = Counter()  # generated requests per strategy, checked by the last test
# examples per test (the first three send two requests per example)
EXAMPLES = {"json": 1500, "rows": 1500, "text": 1500, "anything": 1000, "labels": 1000}
ROW = {"x": 10, "y": 20, "c": "a"}


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _pipeline() -> Any:
    """Logistic regression on a few hundred rows of x, y and c (with missing values)."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "x": rng.normal(50, 20, n),
            "y": rng.normal(10, 5, n),
            "c": rng.choice(np.array(["a", "b", None], dtype=object), n),
        }
    )
    frame.loc[::17, "x"] = np.nan
    target = ((frame["x"].fillna(50) + 3 * frame["y"]) > 80).astype(int)
    return build("logistic_regression", SPEC, seed=0).fit(frame, target)


class Endpoint:
    """The app on an event loop in a thread; each request waits at most ``TIMEOUT_S``."""

    def __init__(self, root: Path) -> None:
        pipeline = _pipeline()
        fast = ServedModel("fuzz", "1", SPEC, 0.5, predictor_for(pipeline, SPEC))
        plain = ServedModel("fuzz", "1", SPEC, 0.5, PipelinePredictor(pipeline, SPEC))
        # B (scikit-learn itself, ten times slower) answers only when targeted
        routes = [Route("A", fast, RowReader(SPEC)), Route("B", plain, RowReader(SPEC), 0.0)]
        plane = DataPlane(
            table(*routes),
            EndpointMetrics("fake-endpoint", None),
            CaptureWriter(root / "capture", "fake-endpoint"),
            max_rows=50,
            timeout_s=5.0,
        )

        def labels(records: list[dict[str, Any]]) -> dict[str, Any]:
            # checked and laid out as the workspace store does; the file itself is not written
            checked = record_labels(records, SPEC)
            return store_labels("fake-endpoint", checked, "request", lambda path, _: path).to_dict()

        app = create_app(ServerState(plane), max_body_bytes=64 * 1024, labels=labels)
        self.plane = plane
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://endpoint")

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=TIMEOUT_S)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self._run(self.client.post(path, content=body, headers=headers))

    def close(self) -> None:
        self._run(self.client.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        if self.plane.capture is not None:
            self.plane.capture.close()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    served = Endpoint(tmp_path_factory.mktemp("fuzz"))
    yield served
    served.close()


def check(response: httpx.Response) -> None:
    """A 200, or a 4xx whose body is the error envelope."""
    status = response.status_code
    assert status == 200 or 400 <= status < 500, (status, response.content[:300])
    if status != 200:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "details"}, error
        assert isinstance(error["message"], str) and error["message"]


def still_answers(served: Endpoint) -> None:
    answer = served.post("/invocations", json.dumps(ROW).encode(), {"content-type": JSON})
    assert answer.status_code == 200, answer.content
    assert answer.json()["predictions"][0]["label"] in ("yes", "no")


# --- strategies ---------------------------------------------------------------------------------

JSON, CSV, JSONL = "application/json", "text/csv", "application/jsonlines"
NAMES = st.sampled_from(["x", "y", "c", "id", "label", "X", "", "c ", "instances"])
KEYS = NAMES | st.text(max_size=8)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
CONTENT_TYPES = st.sampled_from(
    [
        JSON,
        CSV,
        JSONL,
        "application/x-json",
        "application/json; charset=utf-8",
        "text/csv; header=present",
        "TEXT/CSV",
        "*/*",
        "",
        "image/png",
        "application/octet-stream",
        "multipart/form-data; boundary=x",
        ",;",
    ]
)
ACCEPTS = st.sampled_from([JSON, CSV, JSONL, "*/*", "", "text/html", "application/*", "csv"])
VARIANTS = st.sampled_from(["A", "B", "", "C", "a", "../A"])

NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e-310, 2**63, -(2**63) - 1])
)
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=12) | st.sampled_from(["a", "b"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=8,
)


def _value_text(value: Any) -> str:
    # Python's json writes NaN/Infinity and huge integers, which orjson must refuse.
    return json.dumps(value, ensure_ascii=False)


@st.composite
def object_text(draw: st.DrawFn, values: st.SearchStrategy[Any] = VALUES) -> str:
    """A JSON object as text, keys possibly repeated (the last one wins in orjson)."""
    pairs = draw(st.lists(st.tuples(KEYS, values), max_size=6))
    return "{" + ",".join(f"{_value_text(k)}:{_value_text(v)}" for k, v in pairs) + "}"


def _repeated(items: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[list[Any]]:
    """A few drawn items repeated: row counts past the row-by-row and max-rows limits, cheaply."""
    return st.builds(lambda found, times: found * times, items, st.sampled_from([1, 1, 3, 11]))


def _rows(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    record = st.fixed_dictionaries(
        {"x": values, "y": values, "c": values}, optional={"id": values, "zz": values}
    )
    return _repeated(st.lists(record | st.lists(values, max_size=4), max_size=5))


def _envelope(rows: Any, how: str) -> Any:
    if how == "list":
        return rows
    if how == "one":
        return rows[0] if rows else {}
    if how in ("instances", "inputs", "dataframe_records"):
        return {how: rows}
    if how == "inputs_columns":
        names = ["x", "y", "c"]
        return {
            "inputs": {n: [r.get(n) if isinstance(r, dict) else r for r in rows] for n in names}
        }
    columns = ["c", "y", "x"]
    data = [[r.get(c) for c in columns] if isinstance(r, dict) else r for r in rows]
    return {"dataframe_split": {"columns": columns, "data": data}}


ENVELOPES = st.sampled_from(
    ["list", "one", "instances", "inputs", "inputs_columns", "dataframe_records", "dataframe_split"]
)
NEAR = st.sampled_from([1, 2.5, -3, 0, "4", " 5 ", "", None, "a", "b", "zz", True, 1e308])


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    """Any JSON-ish text: values, objects with repeated keys, envelopes, deep nesting."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        text = _value_text(draw(VALUES))
    elif kind == 1:
        text = draw(object_text())
    elif kind == 2:
        text = _value_text(_envelope(draw(_rows(VALUES)), draw(ENVELOPES)))
    elif kind == 3:
        depth = draw(st.integers(1, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"x":', "}")]))
        text = opener * depth + draw(st.sampled_from(["1", "", "[]"])) + closer * depth
    else:
        text = "[" + ",".join(draw(_repeated(st.lists(object_text(NEAR), max_size=4)))) + "]"
    cut = draw(st.integers(0, len(text)) | st.just(len(text)))
    return text[:cut].encode("utf-8", "surrogatepass")


@given(body=json_bodies(), accept=ACCEPTS, variant=VARIANTS)
@fuzz(EXAMPLES["json"])
def test_any_json(endpoint: Endpoint, body: bytes, accept: str, variant: str) -> None:
    """Each body twice: as JSON, and as JSON Lines."""
    for content_type in (JSON, JSONL):
        headers = {"content-type": content_type, "accept": accept}
        if variant:
            headers["x-amzn-sagemaker-target-variant"] = variant
        check(endpoint.post("/invocations", body, headers))
        SENT["json"] += 1


@given(rows=_rows(NEAR), how=ENVELOPES, variant=st.sampled_from(["A", "A", "A", "B"]))
@fuzz(EXAMPLES["rows"])
def test_nearly_valid_rows(endpoint: Endpoint, rows: Any, how: str, variant: str) -> None:
    """Each body twice: answered in JSON, and in CSV."""
    body = json.dumps(_envelope(rows, how)).encode()
    for accept in (JSON, CSV):
        headers = {
            "content-type": JSON,
            "accept": accept,
            "x-amzn-sagemaker-target-variant": variant,
        }
        check(endpoint.post("/endpoints/fake-endpoint/invocations", body, headers))
        SENT["rows"] += 1


CELLS = st.sampled_from(["1", "2.5", "a", "b", "", " ", "x", "y", "c", "nan", "inf", "1e999", "é"])
CSV_NOISE = st.sampled_from(['"', '""', ",", "\n", "\r", "\r\n", "\ufeff", "\x00", ";", "\t"])


@st.composite
def text_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """CSV and JSON Lines: broken quoting, wrong column counts, BOMs, invalid UTF-8."""
    kind = draw(st.sampled_from([CSV, JSONL]))
    if kind == CSV:
        lines = draw(_repeated(st.lists(st.lists(CELLS | CSV_NOISE, max_size=5), max_size=5)))
        if draw(st.booleans()):
            lines.insert(0, draw(st.permutations(["x", "y", "c", "id"])))
        text = "\n".join(",".join(cells) for cells in lines)
    else:
        lines = draw(_repeated(st.lists(object_text(NEAR) | CELLS | CSV_NOISE, max_size=5)))
        text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    body = (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(min_size=1, max_size=4)) + body[at:]
    return body, draw(st.sampled_from([kind, f"{kind}; charset=utf-8"]))


@given(body=text_bodies(), accept=ACCEPTS)
@fuzz(EXAMPLES["text"])
def test_csv_and_json_lines(endpoint: Endpoint, body: tuple[bytes, str], accept: str) -> None:
    """Each body twice: as the type it was made for, and as the other one."""
    content, made_for = body
    other = JSONL if made_for.startswith(CSV) else CSV
    for content_type in (made_for, other):
        headers = {"content-type": content_type, "accept": accept}
        check(endpoint.post("/invocations", content, headers))
        SENT["text"] += 1


@given(
    body=st.binary(max_size=300) | json_bodies(),
    content_type=CONTENT_TYPES | HEADER_TEXT,
    accept=ACCEPTS | HEADER_TEXT,
    extra=st.dictionaries(
        st.sampled_from(
            [
                "x-amzn-sagemaker-target-variant",
                "x-amzn-sagemaker-inference-id",
                "x-amzn-sagemaker-custom-attributes",
                "content-length-x",
            ]
        ),
        HEADER_TEXT,
        max_size=3,
    ),
    path=st.sampled_from(["/invocations", "/endpoints/fake-endpoint/invocations", "/labels"]),
)
@fuzz(EXAMPLES["anything"])
def test_random_bytes_and_headers(
    endpoint: Endpoint,
    body: bytes,
    content_type: str,
    accept: str,
    extra: dict[str, str],
    path: str,
) -> None:
    headers = {"content-type": content_type, "accept": accept, **extra}
    check(endpoint.post(path, body, headers))
    SENT["anything"] += 1


LABEL_VALUES = st.sampled_from([0, 1, "1", "0", "yes", "no", "true", "maybe", 2, None, 1.0, True])
IDS = st.none() | st.text(max_size=6) | st.integers() | st.sampled_from(["inf-1", " ", "a#1"])


@st.composite
def label_bodies(draw: st.DrawFn) -> bytes:
    truth = st.fixed_dictionaries(
        {
            "data": LABEL_VALUES | st.text(max_size=8),
            "encoding": st.sampled_from(["CSV", "JSON", "BASE64", "XML"]),
        }
    )
    flat = st.fixed_dictionaries({"inference_id": IDS, "label": LABEL_VALUES})
    model_monitor = st.fixed_dictionaries(
        {
            "groundTruthData": truth | SCALARS,
            "eventMetadata": st.fixed_dictionaries({"eventId": IDS, "inferenceId": IDS}) | SCALARS,
        }
    )
    record = flat | model_monitor | SCALARS
    shape = draw(st.integers(0, 3))
    records = draw(_repeated(st.lists(record, max_size=3)))
    if shape == 0:
        return _value_text(records).encode()
    if shape == 1:
        return _value_text({"records": records}).encode()
    if shape == 2:
        return "\n".join(_value_text(r) for r in records).encode()
    return draw(st.binary(max_size=40))


@given(body=label_bodies())
@fuzz(EXAMPLES["labels"])
def test_labels(endpoint: Endpoint, body: bytes) -> None:
    check(endpoint.post("/labels", body, {"content-type": JSON}))
    SENT["labels"] += 1


def test_the_endpoint_still_answers_and_every_request_was_sent(endpoint: Endpoint) -> None:
    still_answers(endpoint)
    ping = endpoint._run(endpoint.client.get("/ping"))
    assert ping.status_code == 200
    assert sum(SENT.values()) >= 10_000 or set(SENT) != set(EXAMPLES), SENT  # all tests ran
