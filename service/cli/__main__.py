"""``python -m erfa.service.cli``: the same as the `erfa` command."""

import sys

from erfa.service.cli import main

sys.exit(main())
