"""The README shows the console after the demo: the picture it names is in the repository."""

from __future__ import annotations

import re
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_the_readme_shows_a_screenshot_of_the_console() -> None:
    readme = (REPO / "README.md").read_text()
    [(alt, target)] = re.findall(r"!\[([^\]]*console[^\]]*)\]\(([^)]+\.png)\)", readme)
    assert "demo" in alt
    picture = (REPO / target).read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", picture[16:24])
    assert width >= 800 and height >= 400
