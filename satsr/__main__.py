"""``python -m satsr`` runs the command line."""

from satsr.cli import main

main()
