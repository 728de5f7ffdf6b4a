"""A training run's lineage, read from its step outputs: which input file made which snapshots,
baseline, MLflow runs, model version and endpoint config revision.

Cached steps record the outputs they reused, so a run's lineage is complete even when it
computed nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftloop.pipelines.store import SUCCEEDED, RunRecord, StepRecord


@dataclass(frozen=True)
class Link:
    """One lineage entry: an artifact and what it was derived from."""

    kind: str
    ref: str
    derived_from: str


def lineage(run: RunRecord, steps: list[StepRecord]) -> list[Link]:
    """Input file -> snapshots -> baseline -> MLflow runs -> model version -> endpoint config."""
    done = {step.step: step.outputs for step in steps if step.status == SUCCEEDED}
    links: list[Link] = []
    if ingest := done.get("ingest"):
        digest = ingest["input_digest"][:16]
        links.append(Link("input", f"{run.params['input']} (sha256 {digest})", "-"))
        for side in ("train", "val"):
            ref = f"{ingest[f'{side}_snapshot']} ({ingest[f'{side}_rows']} rows)"
            links.append(Link(f"{side} snapshot", ref, "input"))
    if validate := done.get("validate"):
        links.append(Link("baseline", validate["baseline"], "train snapshot"))
    if train := done.get("train"):
        best = train["best"]["run_id"]
        for candidate in train["candidates"]:
            mark = " (best)" if candidate["run_id"] == best else ""
            ref = f"{candidate['run_id']} {candidate['name']}{mark}"
            links.append(Link("MLflow run", ref, "train + val snapshots"))
    if register := done.get("register"):
        ref = f"{register['model']} v{register['version']}"
        links.append(Link("model version", ref, f"MLflow run {register['run_id']}"))
    if deployed := done.get("deploy"):
        ref = f"{deployed['endpoint']} revision {deployed['revision']} ({deployed['action']})"
        links.append(Link("endpoint config", ref, f"{deployed['model']} v{deployed['version']}"))
    return links
