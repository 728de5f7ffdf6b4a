"""``python -m driftloop``: the same CLI as the ``driftloop`` command."""

from driftloop.cli.main import main

main()
