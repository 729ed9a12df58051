"""funnel_models: where B2B leads stall between marketing and sales.

>>> import funnel_models as fm
>>> fm.Funnel.default().progression
('Lead', 'MQL', 'SAL', 'SQL', 'Opportunity')
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "Funnel",
    "FunnelConfigError",
    "FunnelDataError",
    "FunnelDataset",
    "NotFittedError",
    "Stage",
    "__version__",
    "load",
    "reach_conversion",
    "stage_counts",
    "step_conversion",
    "sla_attainment",
    "spells",
    "time_in_stage",
    "transitions",
    "FunnelMarkov",
    "abm_funnel",
    "account_view",
    "buying_group_coverage",
    "find_stalls",
    "lead_paths",
    "path_summary",
    "paths",
    "stalled_leads",
    "LeadScorer",
    "LeakageWarning",
    "ResponseTimeEffect",
    "TimeToConvert",
    "attribute",
    "conversion_spells",
    "find_leakage",
    "journeys",
    "response_time_table",
]
