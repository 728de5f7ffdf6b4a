from pathlib import Path

from scripts.requirements import render

ROOT = Path(__file__).resolve().parents[3]


def test_requirements_txt_is_generated_from_pyproject() -> None:
    assert (ROOT / "requirements.txt").read_text() == render(ROOT / "pyproject.toml")
