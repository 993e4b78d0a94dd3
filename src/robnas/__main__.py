"""``python -m robnas ...`` (what ``torchrun --nproc-per-node N -m robnas ...`` runs on every rank)."""

import sys

from robnas.cli import main

sys.exit(main())
