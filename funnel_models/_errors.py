"""Exceptions raised by funnel_models.

They subclass built-ins so ``except ValueError`` keeps working for callers
who do not know about us.
"""

from __future__ import annotations


class FunnelDataError(ValueError):
    """Input data that cannot be used at all (missing file, missing column, bad format).

    Row-level problems never raise: those rows are rejected and reported in
    ``FunnelDataset.rejected``.
    """


class FunnelConfigError(ValueError):
    """An invalid funnel definition (``funnel.yaml``) or invalid parameters."""


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit``."""
