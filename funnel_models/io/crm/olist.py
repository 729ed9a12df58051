"""The Olist marketing funnel (Kaggle ``olistbr/marketing-funnel-olist``).

Two CSV files in one folder:

* ``olist_marketing_qualified_leads_dataset.csv`` — one row per MQL (``mql_id``,
  ``first_contact_date``, ``landing_page_id``, ``origin``): a lead created and
  entering ``MQL`` on ``first_contact_date``; ``origin`` becomes ``source``.
* ``olist_closed_deals_dataset.csv`` — one row per won deal (``mql_id``,
  ``won_date``, ``sdr_id``, ``sr_id``, ``seller_id``, business attributes): a
  ``Won`` stage event on ``won_date`` owned by the sales rep (``owner_id`` =
  ``sr_id``) and carrying the deal's columns.

Lost deals and MQLs that never converted have no timestamps in the data set, so
they stay open (censored) MQLs. The one deal whose ``won_date`` is before its
``first_contact_date`` is rejected by validation ("before lead created").
Naive timestamps are read in the ``timezone`` given to :func:`funnel_models.load`.

Examples
--------
>>> import funnel_models as fm                                  # doctest: +SKIP
>>> ds = fm.load("../shared/datasets/olist_marketing_funnel")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.dataset import RawTable
from funnel_models.io.crm._export import EventBuilder, read_export, require_column, text

MQL_FILE = "olist_marketing_qualified_leads_dataset.csv"
DEALS_FILE = "olist_closed_deals_dataset.csv"


def read_olist(path: str | Path, *, funnel=None):
    """Read the Olist folder into leads and stage events."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    mql_path = folder / MQL_FILE
    if not mql_path.exists():
        raise FunnelDataError(f"{folder}: no {MQL_FILE} (the Olist MQL file) in this folder")
    mql = read_export(mql_path)
    where = str(mql_path)
    mql_id = require_column(mql, where, "MQL id", "mql_id")
    first = require_column(mql, where, "first contact date", "first_contact_date")
    rest = [c for c in mql.columns if c not in (mql_id, first, "origin")]
    leads = pd.DataFrame(
        {
            "lead_id": mql[mql_id],
            "created_at": mql[first],
            "source": text(mql["origin"]) if "origin" in mql.columns else None,
            **{c: mql[c] for c in rest},
        }
    )
    rows = np.arange(1, len(mql) + 1)
    events = EventBuilder()
    events.add(mql[mql_id], "MQL", mql[first], rows, where, team="marketing")

    deals_path = folder / DEALS_FILE
    if deals_path.exists():
        deals = read_export(deals_path)
        dwhere = str(deals_path)
        did = require_column(deals, dwhere, "MQL id", "mql_id")
        won = require_column(deals, dwhere, "won date", "won_date")
        extra = {c: deals[c] for c in deals.columns if c not in (did, won, "sr_id")}
        owner = deals["sr_id"] if "sr_id" in deals.columns else None
        # Every deal row becomes one event (a blank won_date is rejected, not skipped).
        events.add(
            deals[did],
            "Won",
            deals[won],
            np.arange(1, len(deals) + 1),
            dwhere,
            mask=np.ones(len(deals), dtype=bool),
            owner_id=owner,
            team="sales",
            **extra,
        )
    tables = {
        "leads": RawTable(leads, where),
        "stage_events": events.table(f"{folder} (MQLs and closed deals)"),
    }
    return tables, f"olist:{folder}", None
