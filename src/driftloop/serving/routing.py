"""A routing table: the loaded variants of one endpoint revision, and how traffic picks one."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from driftloop.data.codecs import RowReader
from driftloop.errors import DataError, ModelNotFound
from driftloop.serving.endpoint_config import Capture, EndpointConfig, Fault
from driftloop.serving.models import ServedModel

Loader = Callable[[str, str], ServedModel]  # (model name, version or alias) -> loaded model


@dataclass(frozen=True)
class Route:
    """One variant, loaded: its model, a row reader for the model's spec, and any fault."""

    name: str
    model: ServedModel
    reader: RowReader
    weight: float = 1.0
    fault: Fault | None = None


@dataclass(frozen=True)
class RoutingTable:
    endpoint: str
    revision: int
    routes: tuple[Route, ...]
    capture: Capture
    shadow: Route | None = None
    shadow_percent: float = 0.0
    # Derived from ``routes`` in __post_init__.
    _cumulative: list[float] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, Route] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cumulative = list(itertools.accumulate(route.weight for route in self.routes))
        object.__setattr__(self, "_cumulative", cumulative)
        object.__setattr__(self, "_by_name", {route.name: route for route in self.routes})

    def pick(self, target: str | None = None) -> Route:
        """The variant named ``target``, else one drawn by weight."""
        if target:
            found = self._by_name.get(target)
            if found is None:
                names = ", ".join(self._by_name)
                raise DataError(
                    f"target variant '{target}' is not on endpoint '{self.endpoint}' ({names})",
                    details={"variant": target},
                )
            return found
        if len(self.routes) == 1:
            return self.routes[0]
        cumulative = self._cumulative
        index = bisect.bisect_right(cumulative, random.random() * cumulative[-1])
        return self.routes[min(index, len(self.routes) - 1)]

    def versions(self) -> dict[str, str]:
        """Variant name -> model version, shadow included."""
        found = {r.name: r.model.version for r in self.routes}
        if self.shadow is not None:
            found[self.shadow.name] = self.shadow.model.version
        return found


def build_table(config: EndpointConfig, load: Loader) -> RoutingTable:
    """Load every model the config names (through ``load``) and build its routing table."""
    routes = tuple(
        _route(v.name, config.model_name, v.model, load, v.weight, v.fault) for v in config.variants
    )
    shadow = None
    if config.shadow is not None:
        s = config.shadow
        shadow = _route(s.name, config.model_name, s.model, load, 0.0, s.fault)
    return RoutingTable(
        endpoint=config.name,
        revision=config.revision,
        routes=routes,
        capture=config.capture,
        shadow=shadow,
        shadow_percent=config.shadow.sampling_percent if config.shadow else 0.0,
    )


def _route(
    name: str, model_name: str, ref: str, load: Loader, weight: float, fault: Fault | None
) -> Route:
    try:
        model = load(model_name, ref)
    except ModelNotFound as exc:
        raise ModelNotFound(f"variant '{name}': {exc.message}") from None
    return Route(name, model, RowReader(model.spec), weight, fault)
