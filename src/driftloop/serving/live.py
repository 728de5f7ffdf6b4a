"""Keep a worker's routing table in step with its endpoint config, without dropping a request.

Each worker polls the config file (one ``stat`` per interval). A new revision is loaded in a
thread while the old table keeps answering; then the reference is swapped in one assignment.
A config that fails to load is logged and the old table stays.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from driftloop.registry.base import ModelRegistry
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.endpoint_config import EndpointConfigStore
from driftloop.serving.models import ServedModel, load_registered, resolve_version
from driftloop.serving.routing import build_table

log = logging.getLogger(__name__)


class ModelCache:
    """Loaded model versions, shared by every revision of a worker's routing table."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._models: dict[tuple[str, int], ServedModel] = {}
        self._lock = threading.Lock()

    def load(self, model_name: str, ref: str) -> ServedModel:
        version = resolve_version(self.registry, model_name, ref)
        key = (model_name, version)
        with self._lock:
            found = self._models.get(key)
        if found is None:
            found = load_registered(self.registry, model_name, version)
            with self._lock:
                self._models[key] = found
        return found

    def keep_only(self, keys: set[tuple[str, int]]) -> None:
        with self._lock:
            for key in set(self._models) - keys:
                del self._models[key]


class ConfigWatcher:
    """Polls one endpoint's config and swaps the data plane's table on a new revision."""

    def __init__(
        self, plane: DataPlane, store: EndpointConfigStore, cache: ModelCache, poll_s: float
    ):
        self.plane, self.store = plane, store
        self.cache = cache
        self.poll_s = poll_s
        self._seen = self._stamp()

    def _stamp(self) -> object | None:
        return self.store.change_marker(self.plane.endpoint)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await self.check()

    async def check(self) -> bool:
        """Load a changed config; True when a new revision went live."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        self._seen = stamp
        try:
            config = self.store.get(self.plane.endpoint)
            if config.revision == self.plane.table.revision:
                return False
            table = await asyncio.to_thread(build_table, config, self.cache.load)
        except Exception:
            log.exception("endpoint %s: new config not applied", self.plane.endpoint)
            return False
        self.plane.table = table
        live = {(config.model_name, int(v)) for v in table.versions().values() if v.isdigit()}
        self.cache.keep_only(live)
        log.info(
            "endpoint %s: revision %d live %s", table.endpoint, table.revision, table.versions()
        )
        return True
