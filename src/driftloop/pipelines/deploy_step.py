"""The training pipeline's deploy step: put the registered version on the endpoint.

It creates the endpoint, or runs a guarded deployment (:mod:`driftloop.deploy.guarded`) to an
existing one, and is a no-op when the endpoint already serves the version. Not cached, and
idempotent.
"""

from __future__ import annotations

from driftloop.config import Settings
from driftloop.deploy.guarded import DeploymentRolledBack, DeployPlan, deploy
from driftloop.errors import NotFoundError
from driftloop.pipelines.steps import Context, Outputs, SkipStep
from driftloop.registry.base import APPROVED, CHAMPION, ModelRegistry
from driftloop.registry.lifecycle import promote
from driftloop.serving.endpoint_config import EndpointConfig, validate_config
from driftloop.serving.models import resolve_version


def deploy_step(ctx: Context) -> Outputs:
    """Deploy ``register.version`` to the run's endpoint; skipped without an endpoint or
    when the version is not Approved."""
    endpoint = ctx.params["endpoint"]
    if endpoint is None:
        raise SkipStep("no endpoint given")
    settings, number = ctx.settings, int(ctx.get("register.version"))
    registry = ctx.stores.registry
    name = settings.registry.model_name
    approval = registry.get_version(name, number).approval
    if approval != APPROVED:
        raise SkipStep(f"{name} v{number} is {approval}; only Approved versions are deployed")
    store = ctx.stores.endpoints
    done = {"endpoint": endpoint, "model": name, "version": number}
    if store.change_marker(endpoint) is None:  # no such endpoint yet
        _make_champion(settings, registry, number)
        variant = {"name": "AllTraffic", "model": str(number)}
        config = {"name": endpoint, "model_name": name, "variants": [variant]}
        created = store.save(validate_config(config))
        return {**done, "action": "created", "revision": created.revision}
    current = store.get(endpoint)
    if _serves(registry, current, number):
        return {**done, "action": "unchanged", "revision": current.revision}
    result = deploy(settings, DeployPlan.from_settings(settings.deploy, endpoint, str(number)))
    if result.status == "rolled_back":
        raise DeploymentRolledBack(
            f"deployment of v{number} to {endpoint} rolled back: {result.reason}",
            details={"revision": result.final_config.revision},
        )
    return {**done, "action": result.status, "revision": result.final_config.revision}


def _serves(registry: ModelRegistry, config: EndpointConfig, number: int) -> bool:
    """Whether all of the endpoint's traffic already goes to version ``number``."""
    if config.shadow is not None:
        return False
    try:
        live = {
            resolve_version(registry, config.model_name, v.model)
            for v in config.variants
            if v.weight > 0
        }
    except NotFoundError:
        return False
    return live == {number}


def _make_champion(settings: Settings, registry: ModelRegistry, number: int) -> None:
    name = settings.registry.model_name
    if CHAMPION not in registry.get_version(name, number).aliases:
        promote(registry, name, number)
