"""`python -m sslskel.cli COMMAND ...`: the `sslskel` command without the installed script."""

import sys

from sslskel.cli import main

sys.exit(main())
