"""``python -m segmask``: the same as the ``segmask`` command."""

import sys

from .cli import main

sys.exit(main())
