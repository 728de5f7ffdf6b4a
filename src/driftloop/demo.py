"""The demo story on the embedded default: generate, prepare, validate, train, register, gate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.data.preprocess import preprocess
from driftloop.data.readers import read_table
from driftloop.flows import TrainingOutcome, baseline_for, load_pair, train_and_register
from driftloop.training.trainer import Progress
from driftloop.validation import verify
from driftloop.workspace import atomic_path, atomic_write_text


@dataclass
class DemoReport:
    """What the demo made: one row per step (step, outcome, where)."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    outcome: TrainingOutcome | None = None

    def add(self, step: str, outcome: str, where: Path | str) -> None:
        self.rows.append((step, outcome, str(where)))


def run_demo(settings: Settings, progress: Progress | None = None) -> DemoReport:
    """Run every step of the loop built so far and report what each one made."""
    say = progress or (lambda _message: None)
    ws = settings.workspace.ensure()
    report = DemoReport()

    say(f"generating {settings.demo.rows} Telco-schema rows")
    raw_csv = ws.data / "telco_demo.csv"
    frame = generate(settings.demo.rows, settings.demo.seed)
    with atomic_path(raw_csv) as tmp:
        frame.to_csv(tmp, index=False)
    report.add(
        "generate", f"{len(frame)} rows, churn rate {(frame.Churn == 'Yes').mean():.1%}", raw_csv
    )

    say("preprocessing: dtypes, ids, stratified split, snapshots")
    prepared = preprocess(raw_csv, ws.prepared, settings.data, ws.snapshots)
    report.add(
        "preprocess", f"train {prepared.train.rows} / val {prepared.val.rows} rows", ws.prepared
    )

    say("baselining the training data")
    train, _ = load_pair(settings, None, None)
    baseline = baseline_for(settings, train)
    report.add("baseline", "statistics.json + constraints.json", baseline.constraints_path.parent)

    say("validating the validation split against the baseline")
    violations = verify(
        read_table(prepared.val_csv), json.loads(baseline.constraints_path.read_text())
    )
    violations_path = ws.reports / "demo" / "constraint_violations.json"
    atomic_write_text(violations_path, json.dumps(violations, indent=2))
    report.add("validate", f"{len(violations['violations'])} violation(s)", violations_path)

    outcome = train_and_register(settings, progress=progress)
    report.outcome = outcome
    best = outcome.best
    report.add(
        "train",
        f"{len(outcome.candidates)} candidates, best {best.name} "
        f"(ROC AUC {best.metrics['roc_auc']:.3f})",
        ws.tracking_uri,
    )
    if outcome.registration is not None:
        version = outcome.registration.version
        gate = "passed" if outcome.registration.gate.passed else "failed"
        report.add(
            "register + gate",
            f"{version.name} v{version.version}: gate {gate}, "
            f"{version.approval}, aliases {', '.join(version.aliases) or '-'}",
            version.source,
        )
    return report
