"""Self-supervised pretraining: `sslskel pretrain`, the same flags (`python pretrain/run.py --help` lists them).
The logic lives in sslskel/cli/pretrain.py; this file runs it from a checkout without installing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslskel.cli.pretrain import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
