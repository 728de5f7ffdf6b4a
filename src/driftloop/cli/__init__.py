"""The ``driftloop`` command line: thin noun-verb groups over the Python API."""
