"""`python -m netbuilder` is the `netbuilder` command."""

import sys

try:
    from netbuilder.cli import main
except KeyboardInterrupt:  # Ctrl+C while starting: no traceback
    sys.exit(130)

sys.exit(main())
