"""The Maven Analytics "CRM + Sales Opportunities" data set (B2B pipeline, fictitious).

A folder with ``sales_pipeline.csv`` (one row per deal: ``opportunity_id``,
``sales_agent``, ``product``, ``account``, ``deal_stage`` in Prospecting >
Engaging > Won / Lost, ``engage_date``, ``close_date``, ``close_value``) and
optionally ``accounts.csv``, ``products.csv`` and ``sales_teams.csv``.

Each deal is a lead of a two-stage funnel (Prospecting → Engaging → Won / Lost):

* created and entering ``Engaging`` on ``engage_date``; ``Won``/``Lost`` on
  ``close_date`` (owner: ``sales_agent``); open Engaging deals stay censored;
* Prospecting rows carry no date at all, so they cannot be placed in time: they
  are rejected with that reason (never dropped silently);
* product names are matched to ``products.csv`` ignoring case and spaces
  (the pipeline's ``GTXPro`` is the catalogue's ``GTX Pro``), adding ``series``
  and ``sales_price``; ``sales_teams.csv`` adds ``manager`` and ``regional_office``;
* every dated deal is also an opportunity (``amount`` = ``close_value``,
  ``won`` for closed deals); ``accounts.csv`` becomes the accounts table
  (``industry`` = ``sector``, ``region`` = ``office_location``). Values are kept
  as spelled in the source (e.g. the sector 'technolgy').

Examples
--------
>>> import funnel_models as fm                                          # doctest: +SKIP
>>> ds = fm.load("../shared/datasets/maven_crm_sales_opportunities")    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.dataset import RawTable
from funnel_models.core.funnel import Funnel
from funnel_models.io.crm._export import (
    EventBuilder,
    Problems,
    key,
    read_export,
    require_column,
    text,
)

PIPELINE_FILE = "sales_pipeline.csv"

MAVEN_FUNNEL = {
    "stages": [
        {"name": "Prospecting", "owner": "sales"},
        {"name": "Engaging", "owner": "sales"},
    ],
    "outcomes": [
        {"name": "Won", "kind": "won", "owner": "sales", "aliases": ["Closed Won"]},
        {"name": "Lost", "kind": "lost", "owner": "sales", "aliases": ["Closed Lost"]},
        {"name": "Disqualified", "kind": "disqualified", "owner": "either"},
        {"name": "Recycled", "kind": "recycled", "owner": "marketing"},
    ],
}


def maven_funnel() -> Funnel:
    """Prospecting → Engaging → Won / Lost, all owned by sales."""
    return Funnel.from_dict(MAVEN_FUNNEL)


def read_maven(path: str | Path, *, funnel=None):
    """Read the Maven folder into leads (= deals), stage events, opportunities, accounts."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    pipe_path = folder / PIPELINE_FILE
    if not pipe_path.exists():
        raise FunnelDataError(f"{folder}: no {PIPELINE_FILE} (the Maven pipeline) in this folder")
    pipe = read_export(pipe_path)
    where = str(pipe_path)
    oid = require_column(pipe, where, "opportunity id", "opportunity_id")
    stage = require_column(pipe, where, "deal stage", "deal_stage")
    engage = require_column(pipe, where, "engage date", "engage_date")
    close = require_column(pipe, where, "close date", "close_date")
    n = len(pipe)
    rows = np.arange(1, n + 1)

    product = text(pipe["product"]) if "product" in pipe.columns else pd.Series([None] * n)
    leads = pd.DataFrame(
        {
            "lead_id": pipe[oid],
            "created_at": pipe[engage],
            "account_id": text(pipe["account"]) if "account" in pipe.columns else None,
            "sales_agent": text(pipe["sales_agent"]) if "sales_agent" in pipe.columns else None,
            "deal_stage": text(pipe[stage]),
        }
    )
    products_path = folder / "products.csv"
    if products_path.exists():
        products = read_export(products_path)
        catalogue = {key(p): p for p in products["product"].dropna()}
        product = product.map(lambda p: catalogue.get(key(p), p) if p is not None else None)
        info = products.assign(product=products["product"].astype(object)).set_index("product")
        leads["product"] = product
        for column in [c for c in info.columns if c != "product"]:
            leads[column] = product.map(info[column])
    else:
        leads["product"] = product
    teams_path = folder / "sales_teams.csv"
    if teams_path.exists() and "sales_agent" in pipe.columns:
        teams = read_export(teams_path).set_index("sales_agent")
        for column in teams.columns:
            leads[column] = leads["sales_agent"].map(teams[column])

    undated = text(pipe[engage]).isna().to_numpy(bool)
    problems = Problems(n)
    stage_text = text(pipe[stage]).fillna("(blank)").astype(str)
    problems.add(
        undated,
        "created_at",
        "no date",
        np.array(
            [
                f"deal_stage {s!r} has no engage_date: Maven records no date before Engaging, "
                "so this deal cannot be placed in time"
                for s in stage_text
            ],
            dtype=object,
        ),
    )

    events = EventBuilder()
    dated = ~undated
    events.add(
        pipe[oid], "Engaging", pipe[engage], rows, where, mask=dated, owner_id=leads["sales_agent"]
    )
    closed = dated & text(pipe[close]).notna().to_numpy(bool)
    events.add(
        pipe[oid], stage_text, pipe[close], rows, where, mask=closed, owner_id=leads["sales_agent"]
    )

    stage_key = stage_text.map(key)
    won = pd.Series(pd.NA, index=range(n), dtype="boolean")
    won[closed & (stage_key == "won").to_numpy(bool)] = True
    won[closed & (stage_key == "lost").to_numpy(bool)] = False
    opportunities = pd.DataFrame(
        {
            "opportunity_id": pipe[oid],
            "lead_id": pipe[oid],
            "account_id": leads["account_id"],
            "created_at": pipe[engage],
            "closed_at": pipe[close],
            "amount": pipe["close_value"] if "close_value" in pipe.columns else None,
            "won": won,
            "product": leads["product"],
        }
    ).loc[dated]
    tables = {
        "leads": RawTable(leads, where, problems=problems.frame()),
        "stage_events": events.table(where),
        "opportunities": RawTable(opportunities, where, rows=rows[dated]),
    }
    accounts_path = folder / "accounts.csv"
    if accounts_path.exists():
        acc = read_export(accounts_path)
        awhere = str(accounts_path)
        aid = require_column(acc, awhere, "account", "account")
        renamed = {aid: "account_id", "sector": "industry", "office_location": "region"}
        tables["accounts"] = RawTable(acc.rename(columns=renamed), awhere)
    return tables, f"maven:{folder}", None if funnel is not None else maven_funnel()
