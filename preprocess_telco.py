#!/usr/bin/env python
"""The classic ``preprocess_telco.py --input-csv FILE --output-dir DIR``, delegating to driftloop.

Same as ``driftloop preprocess --input-csv FILE --output-dir DIR``.
"""

import sys

from driftloop.cli.main import main

if __name__ == "__main__":
    main(["preprocess", *sys.argv[1:]])
