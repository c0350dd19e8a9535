"""``python -m compositor``: the ``compositor`` command."""
import sys

from .cli import main

sys.exit(main())
