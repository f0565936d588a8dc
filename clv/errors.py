"""Errors of the orchestration layer (``clv``): one line each, with the fix."""


class ClvError(Exception):
    """An error a user can cause through ``clv`` outside ingestion (missing database, dbt, ...)."""
