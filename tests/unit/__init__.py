"""Unit tests, laid out like the source.

A test file lives in ``tests/unit/<package>/``, where ``<package>`` is the package of
``src/driftloop/`` holding the code the file mainly tests (``driftloop.alarms.evaluate`` ->
``tests/unit/alarms/``, ``driftloop.cli.alarms`` -> ``tests/unit/cli/``). When a file exercises
several packages, it goes with the one its name and most of its tests are about.

Tests of the top-level modules (``agent``, ``config``, ``config_file``, ``errors``, ``logging``,
``owner``, ``workspace``, ``sqlite_db``, ``flows``) go in ``tests/unit/core/``. Tests of code
outside ``src/driftloop`` (``scripts/``, the helpers in ``tests/``) go in ``tests/unit/tooling/``.

Every folder is a package (it has an ``__init__.py``), so a file name may repeat across folders.
"""
