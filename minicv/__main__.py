"""``python -m minicv`` runs the ``minicv`` command."""
import sys

from minicv.cli import main

if __name__ == "__main__":
    sys.exit(main())
