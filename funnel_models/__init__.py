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
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "FunnelConfigError": "funnel_models._errors",
    "FunnelDataError": "funnel_models._errors",
    "NotFittedError": "funnel_models._errors",
    "abm_funnel": "funnel_models.analysis.accounts",
    "account_view": "funnel_models.analysis.accounts",
    "buying_group_coverage": "funnel_models.analysis.accounts",
    "attribute": "funnel_models.analysis.attribution",
    "journeys": "funnel_models.analysis.attribution",
    "reach_conversion": "funnel_models.analysis.conversion",
    "stage_counts": "funnel_models.analysis.conversion",
    "step_conversion": "funnel_models.analysis.conversion",
    "FunnelDataset": "funnel_models.core.dataset",
    "find_personal_data": "funnel_models.core.privacy",
    "ingest": "funnel_models.io",
    "load": "funnel_models.io",
    "response_time_table": "funnel_models.models.handoff",
    "ResponseTimeEffect": "funnel_models.models.handoff",
    "FunnelMarkov": "funnel_models.models.markov",
    "lead_paths": "funnel_models.analysis.paths",
    "path_summary": "funnel_models.analysis.paths",
    "paths": "funnel_models.analysis.paths",
    "find_leakage": "funnel_models.models.scoring",
    "LeadScorer": "funnel_models.models.scoring",
    "LeakageWarning": "funnel_models.models.scoring",
    "PersonalDataWarning": "funnel_models.models.scoring",
    "spells": "funnel_models.analysis.visits",
    "transitions": "funnel_models.analysis.visits",
    "Funnel": "funnel_models.core.funnel",
    "Stage": "funnel_models.core.funnel",
    "find_stalls": "funnel_models.analysis.stalls",
    "stalled_leads": "funnel_models.analysis.stalls",
    "conversion_spells": "funnel_models.models.survival",
    "TimeToConvert": "funnel_models.models.survival",
    "sla_attainment": "funnel_models.analysis.time_in_stage",
    "time_in_stage": "funnel_models.analysis.time_in_stage",
}
# submodules reachable as attributes: fm.plots, fm.widgets, fm.synthetic
_SUBMODULES = {
    "plots": "funnel_models.viz.plots",
    "widgets": "funnel_models.app.widgets",
    "synthetic": "funnel_models.synthetic",
}

__all__ = sorted([*_EXPORTS, "__version__"], key=str.lower)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    else:
        raise AttributeError(f"module 'funnel_models' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])


if TYPE_CHECKING:  # what type checkers and IDEs see
    from funnel_models._errors import FunnelConfigError, FunnelDataError, NotFittedError
    from funnel_models.analysis.accounts import abm_funnel, account_view, buying_group_coverage
    from funnel_models.analysis.attribution import attribute, journeys
    from funnel_models.analysis.conversion import reach_conversion, stage_counts, step_conversion
    from funnel_models.analysis.paths import lead_paths, path_summary, paths
    from funnel_models.analysis.stalls import find_stalls, stalled_leads
    from funnel_models.analysis.time_in_stage import sla_attainment, time_in_stage
    from funnel_models.analysis.visits import spells, transitions
    from funnel_models.core.dataset import FunnelDataset
    from funnel_models.core.funnel import Funnel, Stage
    from funnel_models.core.privacy import find_personal_data
    from funnel_models.io import ingest, load
    from funnel_models.models.handoff import ResponseTimeEffect, response_time_table
    from funnel_models.models.markov import FunnelMarkov
    from funnel_models.models.scoring import (
        LeadScorer,
        LeakageWarning,
        PersonalDataWarning,
        find_leakage,
    )
    from funnel_models.models.survival import TimeToConvert, conversion_spells
