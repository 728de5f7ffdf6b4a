#!/usr/bin/env python
"""SageMaker's script-mode entry point: trains driftloop's candidates in a training job.

Hyperparameters arrive as ``--name value``; data in ``SM_CHANNEL_TRAIN`` and
``SM_CHANNEL_VALIDATION``; the best model goes to ``SM_MODEL_DIR``, where driftloop's
container serves it (see driftloop.script_mode).
"""

import sys

from driftloop.script_mode import main

if __name__ == "__main__":
    sys.exit(main())
