"""``driftloop infra render``: the CloudFormation template and the Terraform module of the
settings, rendered in memory and then written all together or not at all."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from driftloop.config import Settings
from driftloop.errors import DriftloopError
from driftloop.infra import cloudformation, terraform
from driftloop.infra.policy import RolePolicy
from driftloop.infra.stack import describe

CLOUDFORMATION = Path("cloudformation.yaml")
TERRAFORM = Path("terraform")
FILE_MODE = 0o644
"""Mode of a new file (a file written over keeps its mode)."""


@dataclass(frozen=True)
class Rendered:
    files: dict[Path, str]
    """Text of each file, by its path inside the output folder."""
    notes: list[str]
    """What the render could not do as the settings ask (a missing policy file, ...)."""


def render(settings: Settings, policy: RolePolicy) -> Rendered:
    """Both renderings of the resources ``settings`` call for; nothing is written."""
    stack = describe(settings, policy)
    files = {CLOUDFORMATION: cloudformation.render(stack)}
    for name, text in terraform.render(stack, settings.aws.region).items():
        files[TERRAFORM / name] = text
    return Rendered(files, stack.notes)


def write(rendered: Rendered, output: Path) -> list[Path]:
    """Write the files under ``output``: each goes to a temporary file beside its place, and
    only when every one is written are they renamed into place; a failure leaves nothing new."""
    made: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, text in rendered.files.items():
            path = output / relative
            _make_folders(path.parent, made)
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((Path(name), path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.chmod(name, path.stat().st_mode & 0o777 if path.exists() else FILE_MODE)
        for staged_file, path in staged:
            os.replace(staged_file, path)
    except OSError as exc:
        for staged_file, _ in staged:
            staged_file.unlink(missing_ok=True)
        for folder in reversed(made):
            folder.rmdir()
        where = exc.filename or output
        raise DriftloopError(f"infra render cannot write {where}: {exc.strerror}") from None
    return [path for _, path in staged]


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Create ``folder`` and its missing parents, outermost first, adding each to ``made``."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir()
        made.append(created)
