"""PyInstaller entry script: the frozen `tracehound` executable starts here."""

import sys

from tracehound.agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
