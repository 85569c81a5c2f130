"""Errors and warnings raised by effekt.

Every problem with a user's input raises a subclass of :class:`EffektError`.
The message says what is wrong, where (column, rows, block, distribution),
what was received and what to do about it.

The subclasses also derive from the built-in exception a caller may already
catch (``ValueError`` for bad data and designs, ``ImportError`` for plugins),
as scikit-learn does for its own validation errors.
"""

from __future__ import annotations

__all__ = [
    "EffektError",
    "DataError",
    "DesignError",
    "EstimationError",
    "PluginError",
    "EffektWarning",
    "warn",
]


class EffektError(Exception):
    """Base class of every error effekt raises on purpose."""


class DataError(EffektError, ValueError):
    """The data cannot be analysed as given: a missing column, a wrong type,
    a missing value, an arm with no units, a non-positive weight, ..."""


class DesignError(EffektError, ValueError):
    """The design or the options are inconsistent: an ambiguous design, a
    probability out of range, a capacity that cannot be met, an option that
    needs another option."""


class EstimationError(EffektError, RuntimeError):
    """The estimator could not produce a result from valid input, e.g. a
    singular design matrix or a model that did not converge."""


class PluginError(EffektError, ImportError):
    """A plugin is broken, duplicated, or not installed."""


class EffektWarning(UserWarning):
    """A result was produced, but something about it needs the user's
    attention (few clusters, unequal windows, an information fraction below
    one, ...)."""


def _ours(module: str, extra: tuple[str, ...]) -> bool:
    top = module.split(".", 1)[0]
    return top == "effekt" or top.startswith("effekt_") or top in extra


def warn(message: str, category: type[Warning] = EffektWarning, *, packages: tuple[str, ...] = ()) -> None:
    """Issue a warning that points at the user's line.

    The warning is attributed to the first frame outside effekt and its
    plugins (packages ``effekt`` and ``effekt_*``, plus ``packages``), so it
    names the line of the user's script that called ``ef.estimate`` or
    ``fit``, however deep inside the package it was raised (as pyfixest's
    ``find_stack_level``).
    """
    import sys
    import warnings

    level = 1
    frame = sys._getframe(1)
    while frame is not None and _ours(str(frame.f_globals.get("__name__", "")), packages):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)
