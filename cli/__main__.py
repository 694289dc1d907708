"""``python -m hubtune.cli``: the same as the ``hubtune`` console script."""

import sys

from hubtune.cli.main import main

sys.exit(main())
