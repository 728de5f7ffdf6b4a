"""The soak's endpoint: the boosted-trees champion alone, or split with a logistic-regression
challenger; every minute the soak flips between the two through ``driftloop endpoints update``,
so the server loads the challenger, routes between both, then unloads it again."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import _setup

ENDPOINT = "soak"
CHALLENGER = "logistic_regression"


@dataclass(frozen=True)
class Swap:
    """One endpoint config the soak switches to: its variants and the versions that answer."""

    label: str
    variants: tuple[str, ...]
    versions: frozenset[str]


def _challenger_version(workspace: Path) -> int | None:
    from mlflow import MlflowClient

    uri = _setup.tracking_uri(workspace)
    client = MlflowClient(uri, registry_uri=uri)
    versions = client.search_model_versions(f"name='{_setup.MODEL_NAME}'")
    found = [int(v.version) for v in versions if v.tags.get("candidate") == CHALLENGER]
    return max(found, default=None)


def challenger(workspace: Path, bin_dir: Path, env: dict[str, str]) -> int:
    """A logistic-regression version of the model: the newest one, or one trained now. Its
    gate may fail against the champion (so ``train`` exits non-zero); it is registered anyway,
    and a variant may serve it."""
    version = _challenger_version(workspace)
    if version is None:
        train_env = {**env, "DRIFTLOOP_TRAINING__CANDIDATES": f'["{CHALLENGER}"]'}
        subprocess.run(
            [str(bin_dir / "driftloop"), "train"], cwd=workspace, env=train_env, capture_output=True
        )
        version = _challenger_version(workspace)
        if version is None:
            raise RuntimeError(f"training registered no {CHALLENGER} version")
    return version


def swaps(champion: int, challenger_version: int) -> tuple[Swap, Swap]:
    """The two configs the soak alternates between."""
    alone = Swap(f"A=v{champion}", (f"A={champion}",), frozenset({str(champion)}))
    split = Swap(
        f"A=v{champion}:50 B=v{challenger_version}:50",
        (f"A={champion}:50", f"B={challenger_version}:50"),
        frozenset({str(champion), str(challenger_version)}),
    )
    return alone, split


def _variant_args(swap: Swap) -> list[str]:
    return [arg for variant in swap.variants for arg in ("--variant", variant)]


def create(workspace: Path, bin_dir: Path, env: dict[str, str], swap: Swap) -> None:
    """The soak endpoint in ``swap``'s config, capturing every request."""
    args = ["endpoints", "create", ENDPOINT, *_variant_args(swap), "--capture-percent", "100"]
    _setup._driftloop(bin_dir, args, workspace, env)


def apply(workspace: Path, bin_dir: Path, env: dict[str, str], swap: Swap) -> None:
    """Switch the running endpoint to ``swap``, as a user would, with the CLI."""
    _setup._driftloop(
        bin_dir, ["endpoints", "update", ENDPOINT, *_variant_args(swap)], workspace, env
    )
