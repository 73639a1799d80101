"""Supervised training with all labels: `sslskel supervised`, the same flags
(`python supervised/run.py --help` lists them).
The logic lives in sslskel/cli/supervised.py; this file runs it from a checkout without installing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslskel.cli.supervised import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
