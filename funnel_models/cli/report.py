"""``funnel-models report SOURCE --out FILE.html``: a self-contained static report."""

from __future__ import annotations

import sys

from funnel_models.cli.validate import add_source_arguments, load_from_args


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a self-contained static HTML report that opens offline",
        description="Write one HTML file with every chart (plotly inlined) and no code.",
    )
    add_source_arguments(p)
    p.add_argument("--out", required=True, metavar="FILE.html", help="the HTML file to write")
    p.add_argument("--as-of", dest="as_of", help="snapshot date (default: the latest event)")
    p.add_argument(
        "--slides",
        action="store_true",
        help="write the workshop notebook as offline reveal.js slides instead",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from funnel_models.app.report import write_report, write_slides

    dataset = load_from_args(args)  # fails early, in one line, on an unusable source
    if args.slides:
        path = write_slides(args.source, args.out, as_of=args.as_of)
    else:
        path = write_report(dataset, args.out, as_of=args.as_of)
    print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
