"""`python -m sslskel.compare ...` is `sslskel compare ...`."""

import sys

from .cli import main

sys.exit(main())
