"""``driftloop endpoints create|update|show|list|delete``: endpoint configs in the workspace."""

from __future__ import annotations

import typer
from rich.table import Table

from driftloop.cli._context import console, settings
from driftloop.errors import ConfigError
from driftloop.serving.endpoint_config import (
    EndpointConfig,
    EndpointConfigStore,
    validate_config,
)

app = typer.Typer(help="Endpoint configs: variants, shadow, data capture.", no_args_is_help=True)

_VARIANTS = typer.Option(
    None,
    "--variant",
    "-v",
    help="NAME=MODEL[:WEIGHT]; MODEL is a version number or alias (repeatable).",
)
_SHADOW = typer.Option(
    None, "--shadow", help="NAME=MODEL[:SAMPLING_PERCENT] mirrored traffic (percent default 100)."
)
_CAPTURE = typer.Option(None, "--capture-percent", help="Share of requests captured (0-100).")


def parse_variant(text: str, default: float = 1.0) -> tuple[str, str, float]:
    """``NAME=MODEL[:NUMBER]`` -> (name, model, number); the number defaults to ``default``."""
    name, sep, rest = text.partition("=")
    model, _, number = rest.partition(":")
    if not sep or not name or not model:
        raise ConfigError(f"'{text}' is not NAME=MODEL[:NUMBER] (for example AllTraffic=champion)")
    try:
        return name, model, float(number) if number else default
    except ValueError:
        raise ConfigError(f"'{text}': '{number}' is not a number") from None


def _variants(texts: list[str]) -> tuple[dict[str, object], ...]:
    return tuple({"name": n, "model": m, "weight": w} for n, m, w in map(parse_variant, texts))


def _shadow(text: str) -> dict[str, object]:
    """A shadow mirrors 100 % of traffic unless a sampling percent is given (``:1`` is 1 %)."""
    name, model, percent = parse_variant(text, default=100.0)
    return {"name": name, "model": model, "sampling_percent": percent}


def _validated(**fields: object) -> EndpointConfig:
    return validate_config(fields)


def _save(ctx: typer.Context, config: EndpointConfig) -> EndpointConfig:
    """Save ``config`` once every variant's model reference resolves (else exit 4, saying
    which variant)."""
    from driftloop.backends.catalog import Backends
    from driftloop.serving.models import check_references

    check_references(Backends.from_settings(settings(ctx)).registry, config)
    return _store(ctx).save(config)


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Endpoint name."),
    variant: list[str] | None = _VARIANTS,
    shadow: str | None = _SHADOW,
    capture_percent: float | None = _CAPTURE,
    serverless: bool = typer.Option(
        False, "--serverless", help="Serverless (SageMaker ServerlessConfig): no capture."
    ),
    memory_mb: int = typer.Option(2048, help="Serverless memory: 1024-6144, by 1024."),
    max_concurrency: int = typer.Option(20, help="Serverless concurrent requests: 1-200."),
    provisioned_concurrency: int | None = typer.Option(
        None, help="Serverless concurrency kept warm (at most --max-concurrency)."
    ),
) -> None:
    """Create (or replace) an endpoint config; default: AllTraffic=champion."""
    cfg = settings(ctx)
    capture = {"sampling_percent": 100.0 if capture_percent is None else capture_percent}
    if serverless and capture_percent is None:
        capture = {"enabled": False}
    config = _validated(
        name=name,
        model_name=cfg.registry.model_name,
        variants=_variants(variant or ["AllTraffic=champion"]),
        shadow=_shadow(shadow) if shadow else None,
        capture=capture,
        serverless={
            "memory_mb": memory_mb,
            "max_concurrency": max_concurrency,
            "provisioned_concurrency": provisioned_concurrency,
        }
        if serverless
        else None,
    )
    _show(_save(ctx, config))


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Endpoint name."),
    variant: list[str] | None = _VARIANTS,
    shadow: str | None = _SHADOW,
    no_shadow: bool = typer.Option(False, "--no-shadow", help="Remove the shadow variant."),
    capture_percent: float | None = _CAPTURE,
) -> None:
    """Change variants, weights, shadow or capture; running servers apply it live."""
    store = _store(ctx)
    current = store.get(name)
    fields = current.model_dump()
    if variant:
        fields["variants"] = _variants(variant)
    if shadow:
        fields["shadow"] = _shadow(shadow)
    if no_shadow:
        fields["shadow"] = None
    if capture_percent is not None:
        fields["capture"] = {**fields["capture"], "sampling_percent": capture_percent}
    _show(_save(ctx, _validated(**fields)))


@app.command("show")
def show_cmd(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Print an endpoint config as JSON."""
    console.print_json(_store(ctx).get(name).model_dump_json())


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List endpoint configs."""
    table = Table("endpoint", "revision", "variants", "shadow", "capture %")
    for config in _store(ctx).list():
        variants = ", ".join(f"{v.name}={v.model}:{v.weight:g}" for v in config.variants)
        shadow = f"{config.shadow.name}={config.shadow.model}" if config.shadow else "-"
        capture = f"{config.capture.sampling_percent:g}" if config.capture.enabled else "off"
        table.add_row(config.name, str(config.revision), variants, shadow, capture)
    console.print(table)


@app.command("delete")
def delete_cmd(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete an endpoint config (captured data stays)."""
    _store(ctx).delete(name)
    console.print(f"deleted endpoint {name}")


def _show(config: EndpointConfig) -> None:
    variants = ", ".join(f"{v.name}={v.model} (weight {v.weight:g})" for v in config.variants)
    kind = " (serverless)" if config.serverless else ""
    console.print(f"endpoint {config.name}{kind} revision {config.revision}: {variants}")


def _store(ctx: typer.Context) -> EndpointConfigStore:
    from driftloop.backends.catalog import Backends

    return Backends.from_settings(settings(ctx)).endpoints
