"""Client traffic for the demo: one request per customer over a keep-alive connection, every
answer recorded, and each request's true label sent to the endpoint's ``/labels`` late."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
import pandas as pd

LABEL_BATCH_S = 0.5  # due labels go out at most this often, in one request
IDLE_S = 2.0  # a connection idle this long is reopened (servers close idle keep-alives)


@dataclass(frozen=True)
class Answer:
    status: int
    variant: str | None
    seconds: float
    at: float


@dataclass
class Traffic:
    """Sends rows of a frame to ``url``; not thread-safe (one sender per instance)."""

    url: str
    target: str
    positive: str
    label_delay_s: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    _pending: deque[tuple[float, str, str]] = field(default_factory=deque)
    _last_labels: float = 0.0
    _used: float = 0.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self._conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)

    def send(self, frame: pd.DataFrame, stop: threading.Event | None = None) -> int:
        """One request per row (its features as a JSON object); returns how many were sent."""
        features = [c for c in frame.columns if c != self.target]
        records = frame[features].to_dict(orient="records")
        truth = frame[self.target].astype(str).tolist() if self.target in frame else None
        sent = 0
        for n, record in enumerate(records):
            if stop is not None and stop.is_set():
                break
            inference_id = uuid.uuid4().hex
            self._invoke(orjson.dumps(record), inference_id)
            if truth is not None:
                label = "1" if truth[n] == self.positive else "0"
                self._pending.append((time.time() + self.label_delay_s, inference_id, label))
            self._send_due_labels()
            sent += 1
        return sent

    def loop(self, frame: pd.DataFrame, stop: threading.Event, per_second: float = 200) -> None:
        """Send ``frame`` over and over, about ``per_second`` requests a second, until ``stop``."""
        batch = max(int(per_second / 10), 1)
        while not stop.is_set():
            for start in range(0, len(frame), batch):
                began = time.monotonic()
                self.send(frame.iloc[start : start + batch], stop)
                if stop.wait(max(0.1 - (time.monotonic() - began), 0.0)):
                    return

    def flush_labels(self) -> int:
        """Wait until every label is due and send them all; returns how many were sent."""
        count = len(self._pending)
        if self._pending:
            time.sleep(max(self._pending[-1][0] - time.time(), 0.0))
            self._send_due_labels(force=True)
        return count

    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]

    def close(self) -> None:
        self._conn.close()

    def _invoke(self, body: bytes, inference_id: str) -> None:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "x-amzn-sagemaker-inference-id": inference_id,
        }
        started = time.perf_counter()
        status, headers_out = self._post("/invocations", body, headers)
        variant = headers_out.get("x-amzn-invoked-production-variant")
        self.answers.append(Answer(status, variant, time.perf_counter() - started, time.time()))

    def _send_due_labels(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_labels < LABEL_BATCH_S:
            return
        self._last_labels = now
        due = []
        while self._pending and (force or self._pending[0][0] <= now):
            _, inference_id, label = self._pending.popleft()
            due.append(
                {
                    "groundTruthData": {"data": label, "encoding": "CSV"},
                    "eventMetadata": {"eventId": inference_id},
                    "eventVersion": "0",
                }
            )
        if due:
            json_type = {"content-type": "application/json"}
            status, _ = self._post("/labels", orjson.dumps(due), json_type)
            if status != 200:
                raise RuntimeError(f"the endpoint refused {len(due)} labels (HTTP {status})")

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Status (0 when the connection failed) and lower-cased headers of one POST."""
        if time.monotonic() - self._used > IDLE_S:  # the server may have closed an idle one
            self._conn.close()
        self._used = time.monotonic()
        try:
            self._conn.request("POST", path, body, headers)
            response = self._conn.getresponse()
            response.read()
        except (http.client.HTTPException, OSError):
            self._conn.close()
            return 0, {}
        return response.status, {k.lower(): v for k, v in response.getheaders()}
