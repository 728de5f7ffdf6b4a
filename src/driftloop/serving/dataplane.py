"""The data plane: one invocation from body to answer. HTTP-free, so tests drive it directly.

Order of work: pick the variant, parse against its model's spec, predict (under the time limit),
encode, capture (before the answer leaves), count. A shadow copy runs after the answer is sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

import numpy as np

from driftloop.capture.writer import CaptureWriter, capture_record, new_event_id, utcnow
from driftloop.data import codecs
from driftloop.data.batch import Batch
from driftloop.errors import DriftloopError, ModelError, RequestTimeout
from driftloop.logging import endpoint_var, inference_id_var, variant_var
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.routing import Route, RoutingTable

log = logging.getLogger(__name__)
THREAD_ROWS = 2000  # bigger batches predict in a thread so the time limit can interrupt the wait


@dataclass(frozen=True)
class Invocation:
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    target_variant: str | None = None
    inference_id: str | None = None
    custom_attributes: str | None = None


@dataclass
class Answer:
    body: bytes
    content_type: str
    variant: str
    model_version: str
    headers: dict[str, str] = field(default_factory=dict)


class DataPlane:
    """Routes, predicts, captures and counts for one endpoint."""

    def __init__(
        self,
        table: RoutingTable,
        metrics: EndpointMetrics,
        capture: CaptureWriter | None,
        *,
        max_rows: int,
        timeout_s: float,
    ) -> None:
        self.table = table
        self.metrics = metrics
        self.capture = capture
        self.max_rows = max_rows
        self.timeout_s = timeout_s

    @property
    def endpoint(self) -> str:
        return self.table.endpoint

    async def invoke(self, call: Invocation) -> Answer:
        """Answer one request; raise a :class:`DriftloopError` for the client to see."""
        started = time.perf_counter_ns()
        table = self.table  # one revision for the whole request, even if a new one lands
        variant = call.target_variant or "-"
        endpoint_var.set(table.endpoint)  # log lines of this request carry its context
        inference_id_var.set(call.inference_id)
        model_us: float | None = None
        status, model_error = 200, False
        try:
            route = table.pick(call.target_variant)
            variant = route.name
            variant_var.set(variant)
            content_type = codecs.media_type(call.content_type)
            accept = codecs.media_type(call.accept, default=codecs.JSON)
            batch = codecs.parse(
                call.body, content_type, route.model.spec, self.max_rows, route.reader
            )
            t0 = time.perf_counter_ns()
            proba = await self._predict(route, batch)
            model_us = (time.perf_counter_ns() - t0) / 1000
            answer = self._answer(route, proba, accept)
            self._capture(table, route.name, call, content_type, answer)
            return answer
        except ModelError:
            status, model_error = 500, True
            raise
        except DriftloopError as exc:
            status = exc.status_code
            raise
        except Exception:
            status = 500
            raise
        finally:
            total_us = (time.perf_counter_ns() - started) / 1000
            self.metrics.record(
                variant, status, model_us=model_us, total_us=total_us, model_error=model_error
            )

    async def _predict(self, route: Route, batch: Batch) -> np.ndarray:
        predictor = route.model.predictor
        try:
            if route.fault is None and batch.rows <= THREAD_ROWS:
                # Nothing to await: a timer could not interrupt it, so none is set.
                proba = predictor.predict_proba(batch)
            else:
                async with asyncio.timeout(self.timeout_s):
                    if route.fault is not None:
                        await _inject(route)
                    if batch.rows > THREAD_ROWS:
                        proba = await asyncio.to_thread(predictor.predict_proba, batch)
                    else:
                        proba = predictor.predict_proba(batch)
        except TimeoutError:
            raise RequestTimeout(
                f"the model took longer than {self.timeout_s:g} s to answer"
            ) from None
        except DriftloopError:
            raise
        except Exception as exc:
            log.exception("model of variant %s failed", route.name)
            raise ModelError(f"variant '{route.name}' failed to predict") from exc
        self.metrics.unseen(route.name, predictor.unseen_counts(batch))
        return proba

    def _answer(self, route: Route, proba: np.ndarray, accept: str) -> Answer:
        model = route.model
        labels = [model.spec.label(p >= model.threshold) for p in proba.tolist()]
        body, content_type = codecs.encode(
            proba, labels, accept, version=model.version, variant=route.name
        )
        return Answer(body, content_type, route.name, model.version)

    def _capture(
        self, table: RoutingTable, variant: str, call: Invocation, content_type: str, answer: Answer
    ) -> None:
        capture = table.capture
        if self.capture is None or not capture.enabled:
            return
        if capture.sampling_percent < 100 and random.random() * 100 >= capture.sampling_percent:
            return
        when = utcnow()
        line = capture_record(
            request=call.body if "Input" in capture.modes else None,
            request_type=content_type,
            response=answer.body if "Output" in capture.modes else None,
            response_type=answer.content_type,
            event_id=new_event_id(),
            inference_id=call.inference_id,
            when=when,
        )
        if not self.capture.write(variant, line, when):
            self.metrics.capture_lost(variant)

    def wants_shadow(self) -> bool:
        table = self.table
        return table.shadow is not None and random.random() * 100 < table.shadow_percent

    async def shadow(self, call: Invocation) -> None:
        """Answer a copy of ``call`` with the shadow variant: captured, counted, never returned."""
        table = self.table
        route = table.shadow
        if route is None:
            return
        endpoint_var.set(table.endpoint)
        variant_var.set(route.name)
        inference_id_var.set(call.inference_id)
        started = time.perf_counter_ns()
        status, model_us = 200, None
        try:
            content_type = codecs.media_type(call.content_type)
            batch = codecs.parse(
                call.body, content_type, route.model.spec, self.max_rows, route.reader
            )
            t0 = time.perf_counter_ns()
            proba = await self._predict(route, batch)
            model_us = (time.perf_counter_ns() - t0) / 1000
            answer = self._answer(route, proba, codecs.JSON)
            self._capture(table, route.name, call, content_type, answer)
        except Exception as exc:  # a shadow never affects the caller
            status = exc.status_code if isinstance(exc, DriftloopError) else 500
            self.metrics.shadow_error(route.name)
            log.warning("shadow variant %s failed: %s", route.name, exc)
        finally:
            total_us = (time.perf_counter_ns() - started) / 1000
            self.metrics.record(
                route.name, status, model_us=model_us, total_us=total_us, model_error=status == 500
            )


async def _inject(route: Route) -> None:
    fault = route.fault
    assert fault is not None
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.error_percent and random.random() * 100 < fault.error_percent:
        raise ModelError(f"variant '{route.name}' failed (injected fault)")
