"""``python -m haechi.cli``."""

from haechi.cli.app import main

main()
