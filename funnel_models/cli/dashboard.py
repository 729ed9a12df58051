"""``funnel-models dashboard [SOURCE]``: every dashboard page on one Voila server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_DESCRIPTION = """\
Serve the executive, hand-off and workshop dashboards on one port, with a landing page
and a navigation bar: no code shown, nothing loaded from the internet, bound to 127.0.0.1
unless --host says otherwise. Beyond 127.0.0.1 the pages need a token: the one in
$FUNNEL_MODELS_TOKEN, or one generated and printed here once. Without SOURCE the bundled
sample is used (generated on first use into your data folder), or $FUNNEL_MODELS_SOURCE
when set: that keeps a database password off the command line. Ctrl-C or SIGTERM stops the
server and every kernel.
"""


def _positive(value: str) -> int:
    from funnel_models._errors import FunnelConfigError

    try:
        number = int(value)
    except ValueError:
        raise FunnelConfigError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise FunnelConfigError(f"expected a positive number, got {value!r}")
    return number


def add_parser(subparsers) -> None:
    from funnel_models.app.voila import DEFAULT_KERNEL_TIMEOUT_S, DEFAULT_MAX_KERNELS

    p = subparsers.add_parser(
        "dashboard",
        help="serve every Voila dashboard on one port (default: the bundled sample data)",
        description=_DESCRIPTION,
    )
    p.add_argument("source", metavar="SOURCE", nargs="?", help="dataset folder or database URL")
    p.add_argument("--port", type=int, default=8866, help="port (default: 8866)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--as-of", dest="as_of", help="snapshot date (default: the latest event)")
    p.add_argument(
        "--max-kernels",
        type=_positive,
        default=DEFAULT_MAX_KERNELS,
        metavar="N",
        help=f"at most N kernels at once, one ready per page included; past that a visitor "
        f"gets a 'busy, retry' page (default: {DEFAULT_MAX_KERNELS})",
    )
    p.add_argument(
        "--kernel-timeout",
        type=_positive,
        default=DEFAULT_KERNEL_TIMEOUT_S,
        metavar="SECONDS",
        help="a kernel with no page connected is shut down within SECONDS "
        f"(default: {DEFAULT_KERNEL_TIMEOUT_S})",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve beyond 127.0.0.1 without a token (anyone who can reach the port sees the data)",
    )
    p.add_argument(
        "--no-preheat",
        dest="preheat",
        action="store_false",
        help="do not run the notebooks ahead of the first visitors",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the server's command line and exit"
    )
    p.set_defaults(run=run)


def _source(args) -> str | Path:
    from funnel_models.app.voila import SOURCE_ENV, default_source

    given = args.source or os.environ.get(SOURCE_ENV) or None
    if given is None:
        return default_source(create=not args.dry_run)
    if "://" in given:
        return given
    path = Path(given).resolve()
    if not path.exists():
        raise FileNotFoundError(2, "no such data set", str(path))
    return path


def run(args) -> int:
    from funnel_models.app.voila import (
        ServerOptions,
        check_port_free,
        is_local_host,
        resolve_token,
        serve,
        server_command,
    )
    from funnel_models.core.redaction import redact

    token, generated = resolve_token(args.host, no_auth=args.no_auth, environ=os.environ)
    source = _source(args)
    opts = ServerOptions(
        source=source,
        as_of=args.as_of,
        host=args.host,
        port=args.port,
        preheat=args.preheat,
        max_kernels=args.max_kernels,
        kernel_timeout_s=args.kernel_timeout,
        token=token,
    )
    if args.no_auth and not is_local_host(args.host):
        print(
            f"WARNING: serving {args.host}:{args.port} with no login (--no-auth): anyone who "
            "can reach this port sees the data.",
            file=sys.stderr,
        )
    if args.dry_run:
        print(" ".join(server_command(opts)))
        print(f"source (in the environment): {redact(source)}")
        return 0
    if token and not generated:
        print("pages need the token in $FUNNEL_MODELS_TOKEN", file=sys.stderr)
    check_port_free(args.host, args.port)
    return serve(opts, announce=lambda line: print(line, flush=True), show_token=generated)
