"""The loop's steps as plain functions over settings: what the CLI and the demo call."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from driftloop.backends.catalog import Backends, builds
from driftloop.config import Settings
from driftloop.data.dataset import Dataset, read_typed, store
from driftloop.data.preprocess import MANIFEST, read_manifest_spec
from driftloop.errors import ConfigError, NotFoundError
from driftloop.registry.base import TRAIN_SNAPSHOT_TAG
from driftloop.registry.lifecycle import Registration, register_and_gate
from driftloop.training.job_runs import JOB_TAG, hyperparameters, track_job_model
from driftloop.training.jobs import JobRequest
from driftloop.training.trainer import CandidateResult, Progress, best_candidate, train_candidates
from driftloop.validation import Baseline, write_baseline


@dataclass(frozen=True)
class TrainingOutcome:
    train: Dataset
    val: Dataset
    baseline: Baseline
    candidates: list[CandidateResult]
    best: CandidateResult
    registration: Registration | None


def load_pair(
    settings: Settings, train_path: Path | None, val_path: Path | None
) -> tuple[Dataset, Dataset]:
    """Train and validation datasets; defaults come from the workspace's prepared folder."""
    prepared = settings.workspace.prepared
    train_path = train_path or prepared / "train.csv"
    val_path = val_path or prepared / "val.csv"
    for path in (train_path, val_path):
        if not path.is_file():
            raise NotFoundError(
                f"training data not found: {path} (run `driftloop preprocess` first or pass "
                "--train and --val)",
                details={"file": str(path)},
            )
    # Read and check both files before the first write, so bad input leaves nothing behind.
    train, spec = read_typed(train_path, settings.data, spec=read_manifest_spec(train_path.parent))
    val, _ = read_typed(val_path, settings.data, spec=spec)
    snapshots = Backends.from_settings(settings).snapshots
    return (
        store(train, spec, snapshots, source=str(train_path)),
        store(val, spec, snapshots, source=str(val_path)),
    )


def baseline_for(settings: Settings, dataset: Dataset) -> Baseline:
    """The baseline of a training snapshot, computed once and kept under the workspace."""
    folder = settings.workspace.baselines / dataset.snapshot.digest
    if (folder / "constraints.json").is_file() and (folder / "statistics.json").is_file():
        return Baseline.load(folder)
    return write_baseline(dataset.frame, dataset.spec, folder)


def train_and_register(
    settings: Settings,
    train_path: Path | None = None,
    val_path: Path | None = None,
    *,
    register: bool = True,
    promote: bool = True,
    progress: Progress | None = None,
    tags: dict[str, str] | None = None,
) -> TrainingOutcome:
    """Baseline the training data, fit the candidates, register and gate the best one
    (``promote=False``: a passing version becomes challenger while a champion exists);
    ``tags`` are added to the new version's."""
    say = progress or (lambda _message: None)
    train, val = load_pair(settings, train_path, val_path)
    say("computing the training baseline")
    baseline = baseline_for(settings, train)
    results = train_candidates(train, val, settings, progress)
    best = best_candidate(results, settings.training.primary_metric)
    registration = None
    if register:
        say(f"registering {best.name} and running the gate")
        registration = _register(settings, best, (train, val), baseline, tags or {}, promote)
    return TrainingOutcome(train, val, baseline, results, best, registration)


def train_on_sagemaker(
    settings: Settings,
    train_path: Path | None = None,
    val_path: Path | None = None,
    *,
    poll: float = 30.0,
    progress: Progress | None = None,
    register: bool = True,
) -> TrainingOutcome:
    """As :func:`train_and_register`, with the fitting done by a training job: the data are
    checked and snapshotted here, the job trains on the same CSVs, and its model is logged
    as an MLflow run here, then registered and gated like a local candidate."""
    say = progress or (lambda _message: None)
    if "training" not in builds(settings.backend.kind):
        raise ConfigError(
            f'train --on sagemaker needs backend.kind "aws" (the {settings.backend.kind} '
            "backend runs no training jobs)"
        )
    jobs = Backends.from_settings(settings).training
    jobs.require()  # before the first write
    train, val = load_pair(settings, train_path, val_path)
    baseline = baseline_for(settings, train)
    manifest = Path(train.source).parent / MANIFEST
    found = manifest if manifest.is_file() else None
    request = JobRequest(Path(train.source), Path(val.source), hyperparameters(settings), found)
    say("uploading the channels and submitting the training job")
    name = jobs.submit(request)
    jobs.wait(name, say, poll=poll)
    with tempfile.TemporaryDirectory() as folder:
        best = track_job_model(settings, name, jobs.fetch(name, Path(folder)), train, val)
    registration = None
    if register:
        say(f"registering {best.name} from {name} and running the gate")
        registration = _register(settings, best, (train, val), baseline, {JOB_TAG: name}, True)
    return TrainingOutcome(train, val, baseline, [best], best, registration)


def _register(
    settings: Settings,
    best: CandidateResult,
    data: tuple[Dataset, Dataset],
    baseline: Baseline,
    tags: dict[str, str],
    promote: bool,
) -> Registration:
    """Register and gate ``best`` with its lineage tags (training snapshot, baseline)."""
    stores = Backends.from_settings(settings)
    registry = stores.registry
    folder = baseline.constraints_path.parent
    uri = stores.artifacts.put_folder(f"baselines/{folder.name}", folder)
    tags = {TRAIN_SNAPSHOT_TAG: data[0].snapshot.digest, **tags}
    return register_and_gate(registry, best, data[1], settings, uri, tags, promote=promote)
