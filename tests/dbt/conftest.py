"""The feature-layer tests share the session fixture ``built`` from tests/conftest.py."""
