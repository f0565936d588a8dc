"""Errors raised by ``udfs``: one line each, saying what is wrong and how to fix it."""


class UdfError(Exception):
    """Base class of scoring errors."""


class RegistryError(UdfError):
    """A model, version or champion pointer that is missing, invalid or does not match its card."""
