"""`python -m stream_ops` = the `stream-ops` command."""
from .cli import main

raise SystemExit(main())
