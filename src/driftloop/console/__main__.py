"""``python -m driftloop.console [--config FILE] [console options]``: the console command on
its own (the same as ``driftloop console``)."""

from __future__ import annotations

import sys

from driftloop.console.standalone import main

if __name__ == "__main__":
    main(sys.argv[1:])
