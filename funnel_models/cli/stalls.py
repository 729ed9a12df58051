"""``funnel-models stalls SOURCE``: ranked findings of where leads stall, and who must act.

Prints the findings of :func:`funnel_models.find_stalls` (rank, hand-off,
segment, the figures behind each and a one-sentence summary) and the size of
the act-now list (:func:`funnel_models.stalled_leads`). ``--json`` prints one
JSON object only: ``{"source", "as_of", "findings": [...], "act_now": {...}}``.
"""

from __future__ import annotations

import json
import math
import sys

from funnel_models._errors import FunnelConfigError
from funnel_models.cli.validate import add_source_arguments, load_from_args

ACT_NOW_SHOWN = 20


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "stalls",
        help="ranked findings of where leads stall (slow hand-offs, leaks) and who owns them",
        description=(
            "Find the hand-offs where leads of a segment wait unusually long or leak "
            "unusually often, ranked by won deals a year at stake, plus the open leads "
            "stalled beyond their stage's SLA or 90th percentile."
        ),
    )
    add_source_arguments(p)
    p.add_argument(
        "--as-of",
        metavar="DATE",
        help="snapshot date (default: the latest timestamp in the data, printed)",
    )
    p.add_argument(
        "--by",
        metavar="COL",
        nargs="+",
        help="lead attributes to segment by (default: source, industry, region, sdr_team, ... present)",
    )
    p.add_argument(
        "--min-leads",
        type=int,
        default=30,
        metavar="N",
        help="minimum visits in a segment and in the rest (default: %(default)s)",
    )
    p.add_argument("--top", type=int, metavar="N", help="show only the first N findings")
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(run=run)


def run(args) -> int:
    from funnel_models.engine import resolve_as_of
    from funnel_models.spells import spells as make_spells
    from funnel_models.stalls import find_stalls, stalled_leads

    if args.min_leads < 1:
        raise FunnelConfigError(f"--min-leads must be at least 1, got {args.min_leads}")
    if args.top is not None and args.top < 1:
        raise FunnelConfigError(f"--top must be at least 1, got {args.top}")
    as_of = resolve_as_of(args.as_of)
    dataset = load_from_args(args)
    if dataset.stage_events.empty:
        raise FunnelConfigError(f"{dataset.source}: no stage events to analyse")
    spells = make_spells(dataset, as_of=as_of)
    as_of = spells.attrs["as_of"]
    findings = find_stalls(
        dataset, by=args.by, min_leads=args.min_leads, top=args.top, spells=spells
    )
    act = stalled_leads(spells, funnel=dataset.funnel)

    if args.json:
        payload = {
            "source": dataset.source,
            "as_of": as_of.isoformat(),
            "segments_judged": findings.attrs["segments_judged"],
            "findings": [_record(rank, row) for rank, row in findings.iterrows()],
            "act_now": {
                "count": len(act),
                "by_stage": {k: int(v) for k, v in act["stage"].value_counts().items()},
                "leads": [
                    {"lead_id": lead_id, **{k: _jsonable(v) for k, v in row.items()}}
                    for lead_id, row in act.head(ACT_NOW_SHOWN).iterrows()
                ],
            },
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0

    out = sys.stdout
    print(f"{dataset.source} — as of {as_of:%Y-%m-%d %H:%M} UTC", file=out)
    if findings.empty:
        print(
            f"\nNo stall stands out ({findings.attrs['segments_judged']} segment × hand-off "
            f"comparisons judged, minimum {args.min_leads} visits each).",
            file=out,
        )
    else:
        print(f"\n{len(findings)} findings, largest impact first:\n", file=out)
        for rank, row in findings.iterrows():
            seg = ", ".join(f"{k}={v}" for k, v in row["segment"].items()) or "whole funnel"
            print(
                f"{rank:>3}. {row['from_stage']}→{row['to_stage']}  [{seg}]  {row['kind']}, "
                f"{row['value']:.0%} vs {row['rest_value']:.0%} "
                f"(CI {row['ci_low']:.0%}–{row['ci_high']:.0%}, n={row['n']:,}), "
                f"~{row['won_deals_per_year']:.1f} won deals/yr, owner {row['owner']}",
                file=out,
            )
            print(f"     {row['summary']}", file=out)
    print(f"\nAct now: {len(act):,} open leads stalled beyond their stage's SLA or p90", file=out)
    for stage, n in act["stage"].value_counts().items():
        owner = act.loc[act["stage"] == stage, "owner"].iloc[0]
        print(f"  {stage:<12} {n:>7,}  ({owner})", file=out)
    return 0


def _record(rank, row) -> dict:
    rec = {"rank": int(rank)}
    rec.update({k: _jsonable(v) for k, v in row.items()})
    return rec


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "isoformat"):
        return None if v != v else v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, str | int | float | bool):
        return v
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)
