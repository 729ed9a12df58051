"""Exceptions raised by funnel_models.

They subclass built-ins so ``except ValueError`` keeps working for callers
who do not know about us. :class:`NotFittedError` subclasses scikit-learn's,
so ``sklearn.exceptions.NotFittedError`` catches it too; it is built on first
use, so importing this module never imports scikit-learn (the command line
imports it for every command).
"""

from __future__ import annotations

from typing import Any


class FunnelDataError(ValueError):
    """Input data that cannot be used at all (missing file, missing column, bad format).

    Row-level problems never raise: those rows are rejected and reported in
    ``FunnelDataset.rejected``.
    """


class FunnelConfigError(ValueError):
    """An invalid funnel definition (``funnel.yaml``) or invalid parameters."""


def _not_fitted_error() -> type:
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    class NotFittedError(SklearnNotFittedError):
        """A model was used before ``fit`` (a ``ValueError`` and an ``AttributeError``)."""

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = "NotFittedError"
    return NotFittedError


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        cls = _not_fitted_error()
        globals()[name] = cls  # built once; later look-ups find it directly
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
