"""`driftloop demo`: the whole closed loop on the embedded default, in a folder of its own."""

from driftloop.demo.report import DemoReport
from driftloop.demo.story import run_demo

__all__ = ["DemoReport", "run_demo"]
