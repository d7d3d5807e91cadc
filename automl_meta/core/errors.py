"""Errors raised by automl_meta: one base class, subclasses that also inherit the built-in."""


class AutoMLMetaError(Exception):
    """Base class of every error automl_meta raises on purpose."""


class InvalidDataError(AutoMLMetaError, ValueError):
    """A table cannot be used as given (unreadable, empty, bad target, ...)."""


class InvalidParameterError(AutoMLMetaError, ValueError):
    """An option or argument has a value outside what it accepts."""


class InvalidConfigError(AutoMLMetaError, ValueError):
    """A config does not belong to the search space."""


class AllTrialsFailedError(AutoMLMetaError, RuntimeError):
    """Every trial of a search failed, so there is no model to return."""


class MissingExtraError(AutoMLMetaError, ImportError):
    """A command needs a package of an optional extra (`pip install 'automl-meta[build]'`)
    that is not installed."""
