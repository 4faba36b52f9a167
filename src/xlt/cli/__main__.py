"""``python -m xlt.cli`` (and ``accelerate launch -m xlt.cli``)."""

import sys

from xlt.cli import main

sys.exit(main())
