"""The HTTP edge: who is calling. Only route modules import it (tests/unit/test_dependencies.py)."""
