"""``python -m nsganetv2 <command>``: the same as the ``nsganetv2`` console script."""
import sys

from nsganetv2.cli import main

sys.exit(main())
