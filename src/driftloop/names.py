"""Names that become file and folder names: one pattern, so no name reaches outside its folder.

Endpoint, variant, model, topic, rule and pipeline-run names all end up in paths. Each is
checked here before it is joined to a folder: 1 to 128 letters, digits, ``.``, ``_`` or ``-``,
starting with a letter or digit. So ``..``, ``a/b``, absolute paths, NUL and the empty name are
refused. SageMaker's endpoint and variant names are a subset of these.
"""

from __future__ import annotations

import re

from driftloop.errors import ConfigError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def safe_name(value: object, what: str = "name") -> str:
    """``value`` when it may name a file or folder; else :class:`ConfigError`, one sentence."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} cannot name a file: use 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            details={"name": str(value)},
        )
    return value
