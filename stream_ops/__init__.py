"""stream-ops: livestream and online job-fair orchestration."""
__version__ = "0.1.0"
