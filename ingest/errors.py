"""Errors raised by ``ingest``: one line each, saying what is wrong and how to fix it."""


class IngestError(Exception):
    """Base class of every error a user of ``ingest`` can cause."""


class GenerateError(IngestError, ValueError):
    """Bad arguments to the sample-shop generator."""


class LoadError(IngestError, ValueError):
    """A load that cannot go ahead; the database is left as it was."""
