"""``funnel-models dashboard [SOURCE] [--port P] [--which executive|handoff]``: serve with Voila."""

from __future__ import annotations

import subprocess
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="serve the Voila dashboards (default: the bundled sample data)",
        description="Serve a dashboard with Voila: no code shown, nothing loaded from the "
        "internet, bound to 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("source", metavar="SOURCE", nargs="?", help="dataset folder or database URL")
    p.add_argument("--which", choices=("executive", "handoff"), default="executive")
    p.add_argument("--port", type=int, default=8866, help="port (default: 8866)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--as-of", dest="as_of", help="snapshot date (default: the latest event)")
    p.add_argument(
        "--no-preheat",
        dest="preheat",
        action="store_false",
        help="do not run the notebook ahead of the first visitor",
    )
    p.add_argument("--dry-run", action="store_true", help="print the Voila command and exit")
    p.set_defaults(run=run)


def run(args) -> int:
    from funnel_models.app.voila import default_source, voila_command, voila_env

    if args.source is None:
        source = default_source()
    elif "://" in args.source:
        source = args.source
    else:
        source = Path(args.source).resolve()
        if not source.exists():
            raise FileNotFoundError(2, "no such data set", str(source))
    cmd = voila_command(
        args.which,
        source=source,
        port=args.port,
        host=args.host,
        as_of=args.as_of,
        preheat=args.preheat,
    )
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    print(
        f"Dashboard ({args.which}) on http://{args.host}:{args.port}/  source: {source}  "
        "(Ctrl-C to stop)"
    )
    return subprocess.call(cmd, env=voila_env(source, args.as_of))
