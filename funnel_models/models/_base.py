"""The one base of the funnel models: scikit-learn's estimator contract, written once.

Every model (:class:`~funnel_models.LeadScorer`, :class:`~funnel_models.FunnelMarkov`,
:class:`~funnel_models.ResponseTimeEffect`, :class:`~funnel_models.TimeToConvert`)
subclasses :class:`FunnelEstimator`, so each one

* is a :class:`sklearn.base.BaseEstimator`: ``get_params(deep=...)``, ``set_params``
  and :func:`sklearn.base.clone` work, and ``__init__`` only stores its keyword
  parameters;
* declares ``_parameter_constraints``, checked at the start of every ``fit``
  (a bad value is a :class:`~funnel_models.FunnelConfigError` naming the parameter);
* forgets the last fit when refitted (every public attribute ending in ``_`` is
  deleted first), so :func:`sklearn.utils.validation.check_is_fitted` tells a
  fitted model from an unfitted one, and using an unfitted one raises
  :class:`~funnel_models.NotFittedError` (a subclass of scikit-learn's);
* prints as scikit-learn does before ``fit`` and, once fitted, as one line in
  the style of lifelines: ``<TimeToConvert: fitted on 3,000 leads, 412 still open>``.

Examples
--------
>>> import pandas as pd
>>> from sklearn.base import clone
>>> from sklearn.utils.validation import check_is_fitted
>>> import funnel_models as fm
>>> model = fm.TimeToConvert(min_leads=10)
>>> model
TimeToConvert(min_leads=10)
>>> clone(model).get_params()["min_leads"]
10
>>> spells = pd.DataFrame({"days": [1.0, 2.0, 3.0], "event": ["converted", "exited", "open"]})
>>> model.fit(spells)
<TimeToConvert: MQL→SQL, fitted on 3 leads, 1 still open>
>>> check_is_fitted(model)
"""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from funnel_models._errors import FunnelConfigError, NotFittedError

__all__ = ["FunnelEstimator"]


class FunnelEstimator(BaseEstimator):
    """Parameter checks, refit, fitted check and repr shared by every funnel model."""

    #: parameter name -> allowed values, in scikit-learn's constraint language
    _parameter_constraints: dict = {}

    def _start_fit(self) -> None:
        """Check the parameters and forget the last fit; the first line of every ``fit``."""
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise FunnelConfigError(str(exc)) from None
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _is_fitted(self) -> bool:
        try:
            check_is_fitted(self)
        except SklearnNotFittedError:
            return False
        return True

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call .fit(...) first"
            )

    def _fit_description(self) -> str:
        """What the fit saw, in words: "fitted on 41,203 leads, 6,117 still open"."""
        raise NotImplementedError

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        if self._is_fitted():
            return f"<{type(self).__name__}: {self._fit_description()}>"
        return super().__repr__(N_CHAR_MAX)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """In Jupyter, a fitted model shows its one line; an unfitted one scikit-learn's diagram."""
        if self._is_fitted():
            return {"text/plain": repr(self)}
        return super()._repr_mimebundle_(**kwargs)
