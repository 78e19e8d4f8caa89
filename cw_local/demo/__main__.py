"""``python -m cw_local.demo`` (``make demo``)."""

import sys

from cw_local.demo.run import main

sys.exit(main())
