"""What a pipeline is: named steps, the context each one sees, and the cache key of its result.

A step is a function of a :class:`Context` returning JSON-able outputs. A cacheable step's
cache key covers its name, parameters, the content of its input files, the upstream outputs it
uses, driftloop's version and its module's source. Steps that change shared state (register,
deploy) are not cacheable and must be idempotent. :mod:`driftloop.pipelines.runner` runs them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import driftloop
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.errors import NotFoundError
from driftloop.names import safe_name

Outputs = dict[str, Any]
Say = Callable[[str], None]


class SkipStep(Exception):
    """Raised by a step with nothing to do; it is recorded Skipped with this reason."""


@dataclass(frozen=True)
class Context:
    """What a step sees: settings, the run's stores and parameters, and the outputs of earlier
    steps."""

    settings: Settings
    stores: Backends
    run_id: str
    step: str
    params: dict[str, Any]
    outputs: dict[str, Outputs]
    say: Say = field(default=lambda _message: None)

    @property
    def folder(self) -> Path:
        """This step's folder in this run, for the files it writes."""
        run, step = safe_name(self.run_id, "pipeline run"), safe_name(self.step, "step")
        return runs_folder(self.settings) / run / step

    def get(self, ref: str) -> Any:
        """An upstream output by ``"step.key"``."""
        step, key = ref.split(".", 1)
        return self.outputs[step][key]


def _nothing(_context: Context) -> Any:
    return {}


def _no_files(_context: Context) -> list[Path]:
    return []


def _always(_context: Context, _outputs: Outputs) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """A named step and what its cache key is made of."""

    name: str
    run: Callable[[Context], Outputs]
    cacheable: bool = True
    uses: tuple[str, ...] = ()
    """Upstream outputs (``"step.key"``) that enter the cache key."""
    params: Callable[[Context], dict[str, Any]] = _nothing
    """Parameters that enter the cache key."""
    files: Callable[[Context], list[Path]] = _no_files
    """Input files whose content enters the cache key."""
    still_valid: Callable[[Context, Outputs], bool] = _always
    """Whether recorded outputs still exist (files present, runs not deleted)."""


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]


def runs_folder(settings: Settings) -> Path:
    """Where runs keep their files: ``<workspace>/pipelines/<run id>/<step>/``."""
    return settings.workspace.root / "pipelines"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content; :class:`NotFoundError` when it is missing."""
    if not path.is_file():
        raise NotFoundError(f"input file not found: {path}", details={"file": str(path)})
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def code_version(function: Callable[..., Any]) -> str:
    """driftloop's version and a hash of the source of the module defining ``function``."""
    try:
        source = inspect.getsource(sys.modules[function.__module__])
    except (KeyError, OSError, TypeError):  # no source (built in, or typed at a prompt)
        source = function.__qualname__
    return f"{driftloop.__version__}+{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def cache_key(step: Step, context: Context) -> str:
    """SHA-256 over everything the step's result depends on."""
    parts = {
        "step": step.name,
        "params": step.params(context),
        "files": [file_digest(path) for path in step.files(context)],  # content, not names
        "uses": {ref: context.get(ref) for ref in step.uses},
        "code": code_version(step.run),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
