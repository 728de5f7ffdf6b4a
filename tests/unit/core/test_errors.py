"""The exit-code table: every error class in errors.py, one code per meaning, all in the README."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from driftloop import errors
from driftloop.errors import DriftloopError

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src" / "driftloop"
# Exit codes the CLI gives without an error class: success and Ctrl-C.
NOT_ERRORS = {0, 130}
ELSEWHERE: set[str] = set()  # every error class lives in errors.py


def error_classes() -> list[type[DriftloopError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, DriftloopError) and cls.__module__ == errors.__name__
    ]


def readme_codes() -> set[int]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}


def test_no_two_unrelated_errors_share_an_exit_code() -> None:
    # A class either declares its own code or inherits one; codes are shared only by inheriting,
    # so each code is declared by exactly one class.
    declared: dict[int, str] = {}
    for cls in error_classes():
        if "exit_code" in vars(cls):
            other = declared.setdefault(cls.exit_code, cls.__name__)
            assert other == cls.__name__, f"exit {cls.exit_code}: {other} and {cls.__name__}"
    assert len(declared) > 10


def test_the_deployment_lock_has_its_own_code() -> None:
    assert errors.DeploymentInProgress.exit_code == 12
    assert errors.RegistryError.exit_code == 6


def test_readme_lists_exactly_the_codes_errors_define() -> None:
    codes = {cls.exit_code for cls in error_classes()}
    assert readme_codes() == codes | NOT_ERRORS


def test_every_error_class_lives_in_errors_py() -> None:
    names = {cls.__name__ for cls in error_classes()}
    outside = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name not in ELSEWHERE:
                bases = {getattr(base, "id", getattr(base, "attr", None)) for base in node.bases}
                if bases & names:
                    outside.append(f"{path.relative_to(SRC)}: {node.name}")
    assert outside == []


def test_old_import_paths_still_work() -> None:
    from driftloop.backends.local.notifications import NotificationFailed
    from driftloop.deploy.guarded import DeploymentRolledBack
    from driftloop.deploy.journal import DeploymentInProgress
    from driftloop.events.delivery import TargetFailed
    from driftloop.pipelines.runner import PipelineFailed, PipelineStateError

    moved = [
        DeploymentRolledBack,
        DeploymentInProgress,
        TargetFailed,
        NotificationFailed,
        PipelineFailed,
        PipelineStateError,
    ]
    assert all(cls.__module__ == errors.__name__ for cls in moved)
