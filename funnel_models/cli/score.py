"""``funnel-models score fit|apply``: fit a lead scorer, then rank open leads.

``fit SOURCE --target COL --out MODEL`` takes a flat lead table (CSV, Parquet or
Excel with a target column) or a dataset (folder / database; the target is
``--from-stage/--to-stage/--within-days``). ``apply MODEL SOURCE --out FILE.csv``
writes the open leads ranked by probability with their top reasons, safe to
open in a spreadsheet.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pandas as pd

from funnel_models._errors import FunnelDataError

_FLAT_SUFFIXES = {".csv", ".parquet", ".pq", ".xlsx", ".xls", ".tsv"}


def add_parser(subparsers) -> None:
    from funnel_models.cli.validate import add_source_arguments

    p = subparsers.add_parser("score", help="fit a lead scorer; score open leads")
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    sub.required = True
    f = sub.add_parser(
        "fit",
        help="fit a lead scorer and print its validation metrics",
        description="Fit a calibrated lead scorer; print validation metrics and the features "
        "left out as likely leakage. SOURCE is a flat lead table with a target column, or a dataset.",
    )
    add_source_arguments(f)
    f.add_argument("--target", help="target column of a flat table (e.g. Status)")
    f.add_argument(
        "--positive", help="target value that means converted (guessed for won/lost, yes/no, 1/0)"
    )
    f.add_argument("--id", dest="id_column", help="lead id column of a flat table")
    f.add_argument("--time", dest="time_column", help="date column for time-ordered validation")
    f.add_argument(
        "--from-stage", default="MQL", help="dataset target: from this stage (default MQL)"
    )
    f.add_argument(
        "--to-stage", default="SQL", help="dataset target: reach this stage (default SQL)"
    )
    f.add_argument(
        "--within-days", type=float, default=90.0, help="dataset target window (default 90)"
    )
    f.add_argument("--as-of", help="snapshot date (default: the latest timestamp in the data)")
    f.add_argument("--model", default="auto", choices=["auto", "hgb", "logistic"])
    f.add_argument("--keep-leaky", action="store_true", help="keep features flagged as leakage")
    f.add_argument(
        "--keep-personal",
        action="store_true",
        help="keep columns that look like personal data (names, emails, phones, addresses)",
    )
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", required=True, metavar="MODEL", help="where to save the model (skops)")
    f.add_argument("--json", action="store_true", help="print JSON only")
    f.set_defaults(run=run_fit)
    a = sub.add_parser("apply", help="score open leads into a ranked CSV")
    a.add_argument("model", metavar="MODEL")
    add_source_arguments(a)
    a.add_argument("--as-of", help="snapshot date for a dataset (default: latest timestamp)")
    a.add_argument("--all", action="store_true", help="score every row, not only open leads")
    a.add_argument("--out", required=True, metavar="FILE.csv")
    a.set_defaults(run=run_apply)
    p.set_defaults(run=lambda args: p.error("choose fit or apply"))


def is_flat_file(source: str) -> bool:
    path = Path(source)
    return path.is_file() and path.suffix.casefold() in _FLAT_SUFFIXES


def read_flat(source: str) -> pd.DataFrame:
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    suffix = path.suffix.casefold()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path)
        return pd.read_csv(
            path,
            sep=None if suffix == ".tsv" else ",",
            engine="python" if suffix == ".tsv" else "c",
        )
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise FunnelDataError(f"{path}: cannot read as a table ({exc})") from None


def _parse_time_column(frame: pd.DataFrame, col: str | None) -> pd.DataFrame:
    if col and col in frame and frame[col].dtype == object:
        frame = frame.copy()
        frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce")
    return frame


def run_fit(args) -> int:
    from funnel_models.analysis._features import latest_timestamp
    from funnel_models.cli.validate import load_from_args
    from funnel_models.models.scoring import LeadScorer

    scorer = LeadScorer(
        target=args.target,
        positive=args.positive,
        id_column=args.id_column,
        time_column=args.time_column,
        model=args.model,
        leakage="keep" if args.keep_leaky else "exclude",
        personal_data="keep" if args.keep_personal else "exclude",
        from_stage=args.from_stage,
        to_stage=args.to_stage,
        within_days=args.within_days,
        random_state=args.seed,
    )
    note = ""
    if is_flat_file(args.source):
        if not args.target:
            raise FunnelDataError(
                f"{args.source} is a single table: name its target column with --target COL"
            )
        data = _parse_time_column(read_flat(args.source), args.time_column)
        as_of = None
    else:
        data = load_from_args(args)
        as_of = args.as_of or latest_timestamp(data)
        note = f"as_of {pd.Timestamp(as_of)}" + (
            "" if args.as_of else " (latest timestamp in the data)"
        )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        scorer.fit(data, as_of=as_of) if as_of is not None else scorer.fit(data)
    path = scorer.save(args.out)
    report = scorer.report()
    report["model_file"] = str(path)
    if note:
        report["as_of"] = str(pd.Timestamp(as_of))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    out = sys.stdout
    print(f"{scorer!r}", file=out)
    if note:
        print(note, file=out)
    print(f"validation: {scorer.validation_}", file=out)
    cols = [
        "roc_auc",
        "pr_auc",
        "brier",
        "lift_top10",
        "capture_top10",
        "lift_top20",
        "capture_top20",
    ]
    if len(scorer.summary_):
        print(scorer.summary_[cols].round(3).to_string(), file=out)
        auc = scorer.summary_.loc[scorer.chosen_model_, "roc_auc"]
        if auc < 0.6:
            print(
                f"note: a validation ROC AUC of {auc:.2f} is close to chance (0.5): the features "
                "left in barely tell converters from the others, so the ranking means little",
                file=out,
            )
    for kind, title in (
        ("leakage", "left out as likely leakage (use --keep-leaky to keep them)"),
        ("personal data", "left out as personal data (use --keep-personal to keep them)"),
        ("unusable", "other columns not used"),
    ):
        rows = scorer.excluded_[scorer.excluded_["kind"] == kind]
        if len(rows):
            print(f"\n{title}:", file=out)
            for f, r in rows["reason"].items():
                print(f"  {f}: {r}", file=out)
    print("\nmost important features:", file=out)
    print(scorer.importance_.head(8).round(4).to_string(), file=out)
    print(f"\nmodel saved to {path}", file=out)
    return 0


def run_apply(args) -> int:
    from funnel_models.cli.validate import load_from_args
    from funnel_models.core._csv import write_safe_csv
    from funnel_models.models.scoring import LeadScorer

    scorer = LeadScorer.load(args.model)
    if is_flat_file(args.source):
        data = _parse_time_column(read_flat(args.source), scorer.time_column_)
        ranked = scorer.rank_open_leads(data, open_only=not args.all)
    else:
        data = load_from_args(args)
        ranked = scorer.rank_open_leads(data, as_of=args.as_of, open_only=not args.all)
    frame = ranked.reset_index()
    write_safe_csv(frame, args.out)
    print(f"{len(frame):,} leads scored, ranked by probability: {args.out}")
    return 0
