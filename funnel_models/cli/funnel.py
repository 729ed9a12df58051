"""``funnel-models funnel SOURCE``: the stage table, naive and censoring-aware.

Per stage: visits entered, advanced, lost, still open; conversion naive and
censoring-aware (within 90 days, with interval); days in stage (Kaplan–Meier
median and p90). ``--by COL`` repeats it per segment; ``--json`` prints JSON only.
"""

from __future__ import annotations

import json
import math
import sys

import pandas as pd

from funnel_models._errors import FunnelConfigError


def add_parser(subparsers) -> None:
    from funnel_models.cli.validate import add_source_arguments

    p = subparsers.add_parser(
        "funnel",
        help="stage table: conversion (naive and censoring-aware) and days in stage",
        description=(
            "Stage table of SOURCE: entered, advanced, lost, still open; conversion naive "
            "and censoring-aware (open leads are censored at --as-of, not lost); days in "
            "stage (Kaplan-Meier median and p90)."
        ),
    )
    add_source_arguments(p)
    p.add_argument(
        "--as-of",
        metavar="DATE",
        help="snapshot date (default: the latest stage event in the data, printed)",
    )
    p.add_argument("--by", metavar="COL", help="break down by a leads/stage_events/accounts column")
    p.add_argument("--days", type=int, default=90, help="conversion horizon in days (default 90)")
    p.add_argument("--engine", default="duckdb", choices=("duckdb", "spark"))
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(run=run)


def _parse_as_of(text):
    if text is None:
        return None
    from funnel_models.core.engine import resolve_as_of

    try:
        return resolve_as_of(text)
    except FunnelConfigError:
        raise FunnelConfigError(
            f"--as-of {text!r} is not a date; use e.g. 2024-09-30 or 2024-09-30T18:00:00Z"
        ) from None


def funnel_table(dataset, as_of=None, *, by=None, days=90, engine="duckdb") -> pd.DataFrame:
    """The table the command prints (conversion + time in stage joined per stage)."""
    from funnel_models.analysis.conversion import step_conversion
    from funnel_models.analysis.time_in_stage import time_in_stage
    from funnel_models.analysis.visits import spells

    s = spells(dataset, as_of, engine=engine)
    conv = step_conversion(dataset, days=[days], by=by, spells=s)
    tis = time_in_stage(dataset, by=by, spells=s)
    out = pd.DataFrame(
        {
            "owner": conv["owner"],
            "entered": conv["entered"],
            "advanced": conv["advanced"],
            "lost": conv["lost"] + conv["disqualified"],
            "recycled": conv["recycled"],
            "still_open": conv["still_open"],
            "naive_conversion": conv["naive_conversion"],
            f"conversion_{days}d": conv[f"conversion_{days}d"],
            f"conversion_{days}d_lower": conv[f"conversion_{days}d_lower"],
            f"conversion_{days}d_upper": conv[f"conversion_{days}d_upper"],
            "conversion_from_top": conv["conversion_from_top"],
            "median_days": tis["median_days"],
            "p90_days": tis["p90_days"],
            "enough_data": conv["enough_data"],
            "note": conv["note"].where(conv["note"] != "", tis["note"]),
        }
    )
    out.attrs["as_of"] = s.attrs["as_of"]
    return out


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def run(args) -> int:
    from funnel_models.cli.validate import load_from_args

    as_of = _parse_as_of(args.as_of)
    if args.days <= 0:
        raise FunnelConfigError(f"--days must be a positive number of days, not {args.days}")
    dataset = load_from_args(args)
    table = funnel_table(dataset, as_of, by=args.by, days=args.days, engine=args.engine)
    as_of_used = table.attrs["as_of"]
    if args.json:
        records = []
        for key, row in table.iterrows():
            rec = {}
            if args.by:
                rec[args.by], rec["stage"] = key
            else:
                rec["stage"] = key
            rec.update({k: _clean(v) for k, v in row.items()})
            records.append(rec)
        payload = {
            "source": dataset.source,
            "as_of": as_of_used.isoformat(),
            "as_of_default": args.as_of is None,
            "by": args.by,
            "days": args.days,
            "stages": records,
        }
        print(json.dumps(payload, indent=2))
        return 0
    out = sys.stdout
    origin = "latest stage event in the data" if args.as_of is None else "--as-of"
    print(f"{dataset.source}", file=out)
    print(f"as of {as_of_used:%Y-%m-%d %H:%M} UTC ({origin})", file=out)
    shown = table.drop(columns=[f"conversion_{args.days}d_lower", f"conversion_{args.days}d_upper"])
    d = args.days
    shown[f"conversion_{d}d"] = [
        "-" if pd.isna(v) else f"{v:.1%} [{lo:.0%}-{hi:.0%}]"
        for v, lo, hi in zip(
            table[f"conversion_{d}d"],
            table[f"conversion_{d}d_lower"],
            table[f"conversion_{d}d_upper"],
            strict=True,
        )
    ]
    for col in ("naive_conversion", "conversion_from_top"):
        shown[col] = ["-" if pd.isna(v) else f"{v:.1%}" for v in table[col]]
    for col in ("median_days", "p90_days"):
        shown[col] = ["-" if pd.isna(v) else f"{v:.1f}" for v in table[col]]
    notes = shown.pop("note")
    shown = shown.drop(columns=["enough_data"])
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(shown.to_string(), file=out)
    flagged = [(k, n) for k, n in notes.items() if n]
    if flagged:
        print("\nNotes:", file=out)
        for key, note in flagged:
            label = " / ".join(key) if isinstance(key, tuple) else key
            print(f"  {label}: {note}", file=out)
    print(
        f"\nconversion_{d}d: share of stage visits that moved forward within {d} days, "
        "counting open leads as censored (Aalen-Johansen, 95% interval); naive_conversion "
        "counts them as failures.",
        file=out,
    )
    return 0
