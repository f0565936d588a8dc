"""Errors raised by ``training``: one line each, saying what is wrong and how to fix it."""


class TrainingError(Exception):
    """A model that cannot be trained or fitted as asked."""


class NotFittedError(TrainingError, AttributeError):
    """A prediction asked of an estimator that has not been fitted."""
