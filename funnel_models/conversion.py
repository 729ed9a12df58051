"""Stage conversion.

:func:`stage_counts` is the simple, naive view: how many leads ever entered
each stage and the share that reached the next one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnel_models.dataset import FunnelDataset

__all__ = ["stage_counts"]


def stage_counts(dataset: FunnelDataset) -> pd.DataFrame:
    """Leads that ever entered each progression stage (and Won), with naive conversion.

    A lead counts once per stage however often it re-entered it. Naive: a lead
    still open counts as not converted, so recent cohorts look worse than they are.

    Returns
    -------
    DataFrame indexed by ``stage`` with columns ``owner``, ``entered``,
    ``step_conversion`` (entered / entered of the previous stage; NaN for the
    first stage) and ``conversion_from_top``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
    >>> events = pd.DataFrame({"lead_id": ["a", "b", "a"], "stage": ["Lead", "Lead", "MQL"],
    ...                        "entered_at": ["2024-01-01", "2024-01-01", "2024-01-02"]})
    >>> fm.stage_counts(fm.FunnelDataset.from_frames(leads=leads, stage_events=events))["entered"].tolist()
    [2, 1, 0, 0, 0, 0]
    """
    funnel = dataset.funnel
    won = funnel.outcome_stage("won")
    stages = [*funnel.progression, won]
    events = dataset.stage_events
    entered = (
        events.loc[events["stage"].isin(stages)]
        .drop_duplicates(["lead_id", "stage"])
        .groupby("stage")
        .size()
        .reindex(stages, fill_value=0)
        .astype("int64")
    )
    counts = entered.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.concatenate([[np.nan], counts[1:] / counts[:-1]])
        from_top = counts / counts[0] if counts[0] else np.full_like(counts, np.nan)
    step[1:][counts[:-1] == 0] = np.nan
    table = pd.DataFrame(
        {
            "owner": [funnel.owner(s) for s in stages],
            "entered": entered.to_numpy(),
            "step_conversion": step,
            "conversion_from_top": from_top,
        },
        index=pd.Index(stages, name="stage"),
    )
    return table
