"""``python -m minicv`` runs the ``minicv`` command."""
import sys

from minicv.cli import main

sys.exit(main())
