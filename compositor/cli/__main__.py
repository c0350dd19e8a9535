"""``python -m compositor.cli``: the ``compositor`` command."""
import sys

from . import main

sys.exit(main())
