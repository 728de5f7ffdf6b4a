"""driftloop: the closed MLOps loop for tabular models."""

from driftloop.errors import DriftloopError

__version__ = "0.1.0"
__all__ = ["DriftloopError", "__version__"]
