"""``python -m benchmarks [--quick] [--only NAME ...] [--list] [--threads N]``: see ``benchmarks/_runner.py``."""

from __future__ import annotations

import sys

from benchmarks._runner import main

if __name__ == "__main__":
    sys.exit(main())
