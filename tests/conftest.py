import sys
from pathlib import Path

# Shared peers (tests/peers.py) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
