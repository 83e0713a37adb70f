import sys
from pathlib import Path

# Shared peers (tests/peers.py) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

from pg import pg_server, postgres_url  # noqa: E402,F401 - fixtures for the PostgreSQL store tests
