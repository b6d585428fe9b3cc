"""Run the provenance CLI from a checkout: ``python cli.py ...`` is ``provenance ...``."""

from provenance.cli import main

if __name__ == "__main__":
    main()
