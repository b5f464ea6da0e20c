"""Reproduce the retrieval tables in models.md: `python bench/eval.py [--shared ../shared/data]`.

A thin wrapper over `erfa eval`, so the numbers in models.md come from the same code
the service ranks with.
"""

import sys

from erfa.service.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
