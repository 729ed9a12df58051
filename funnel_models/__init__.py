"""funnel_models: where B2B leads stall between marketing and sales.

>>> import funnel_models as fm
>>> fm.Funnel.default().progression
('Lead', 'MQL', 'SAL', 'SQL', 'Opportunity')

The public names below are imported on first use (PEP 562), so ``import
funnel_models`` and the command line start fast: the statistics, Ibis and
scikit-learn stacks load only when an analysis that needs them runs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "FunnelConfigError": "funnel_models._errors",
    "FunnelDataError": "funnel_models._errors",
    "NotFittedError": "funnel_models._errors",
    "abm_funnel": "funnel_models.accounts",
    "account_view": "funnel_models.accounts",
    "buying_group_coverage": "funnel_models.accounts",
    "attribute": "funnel_models.attribution",
    "journeys": "funnel_models.attribution",
    "reach_conversion": "funnel_models.conversion",
    "stage_counts": "funnel_models.conversion",
    "step_conversion": "funnel_models.conversion",
    "FunnelDataset": "funnel_models.dataset",
    "load": "funnel_models.dataset",
    "response_time_table": "funnel_models.handoff",
    "ResponseTimeEffect": "funnel_models.handoff",
    "FunnelMarkov": "funnel_models.markov",
    "lead_paths": "funnel_models.paths",
    "path_summary": "funnel_models.paths",
    "paths": "funnel_models.paths",
    "find_leakage": "funnel_models.scoring",
    "LeadScorer": "funnel_models.scoring",
    "LeakageWarning": "funnel_models.scoring",
    "spells": "funnel_models.spells",
    "transitions": "funnel_models.spells",
    "Funnel": "funnel_models.stages",
    "Stage": "funnel_models.stages",
    "find_stalls": "funnel_models.stalls",
    "stalled_leads": "funnel_models.stalls",
    "conversion_spells": "funnel_models.survival",
    "TimeToConvert": "funnel_models.survival",
    "sla_attainment": "funnel_models.time_in_stage",
    "time_in_stage": "funnel_models.time_in_stage",
}
# submodules reachable as attributes: fm.plots, fm.widgets, fm.synthetic
_SUBMODULES = ("plots", "widgets", "synthetic")

__all__ = sorted([*_EXPORTS, "__version__"], key=str.lower)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"funnel_models.{name}")
    else:
        raise AttributeError(f"module 'funnel_models' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])


class _Package(types.ModuleType):
    """Keeps ``fm.spells`` the function when the submodule ``funnel_models.spells`` loads.

    Importing a submodule binds it on its package under its own name; three public
    functions share their module's name (``spells``, ``paths``, ``time_in_stage``),
    so without this a lazy import would replace the function by the module.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # what type checkers and IDEs see
    from funnel_models._errors import FunnelConfigError, FunnelDataError, NotFittedError
    from funnel_models.accounts import abm_funnel, account_view, buying_group_coverage
    from funnel_models.attribution import attribute, journeys
    from funnel_models.conversion import reach_conversion, stage_counts, step_conversion
    from funnel_models.dataset import FunnelDataset, load
    from funnel_models.handoff import ResponseTimeEffect, response_time_table
    from funnel_models.markov import FunnelMarkov
    from funnel_models.paths import lead_paths, path_summary, paths
    from funnel_models.scoring import LeadScorer, LeakageWarning, find_leakage
    from funnel_models.spells import spells, transitions
    from funnel_models.stages import Funnel, Stage
    from funnel_models.stalls import find_stalls, stalled_leads
    from funnel_models.survival import TimeToConvert, conversion_spells
    from funnel_models.time_in_stage import sla_attainment, time_in_stage
