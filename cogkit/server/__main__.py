"""`python -m cogkit.server`: the command of every cogkit image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cogkit.errors import CogkitError
from cogkit.server.config import resolve_config
from cogkit.server.launch import run
from cogkit.server.limits import Limits, flag_name


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cogkit.server", description="Serve a Cog-compatible predictor."
    )
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    p.add_argument("--predictor", help="predictor reference, e.g. predict.py:Predictor ($COGKIT_PREDICTOR)")
    p.add_argument("--train", help="training reference, e.g. train.py:train ($COGKIT_TRAIN)")
    p.add_argument("--cwd", type=Path, default=None, help="project directory (default: the current one)")
    p.add_argument("--worker-python", help="interpreter for the worker ($COGKIT_WORKER_PYTHON)")
    p.add_argument("--upload-url", help="PUT output files here and return their URLs instead of data URIs")
    p.add_argument(
        "--queue",
        metavar="URL",
        help="also take predictions from a Redis stream: redis://HOST:6379/0?stream=NAME ($COGKIT_QUEUE_URL)",
    )
    p.add_argument(
        "--await-explicit-shutdown",
        action="store_true",
        help="ignore SIGTERM; stop only on POST /shutdown",
    )
    p.add_argument(
        "--no-playground",
        action="store_true",
        help="do not serve the web form at /playground ($COGKIT_PLAYGROUND=0)",
    )
    p.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="shut down when stdin closes: the process that started the server is gone "
        "($COGKIT_EXIT_ON_STDIN_EOF=1)",
    )
    limits = p.add_argument_group(
        "limits", "bounds on what clients can make the server do (docs/http-api.md)"
    )
    for f in Limits.fields():
        kind = int if f.type in ("int", int) else float
        limits.add_argument(
            f"--{flag_name(f)}",
            type=kind,
            default=None,
            metavar="N",
            help=f"{f.metadata['help']} (${f.metadata['env']}, default {f.default})",
        )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = resolve_config(
            predictor=args.predictor,
            train=args.train,
            cwd=args.cwd,
            host=args.host,
            port=args.port,
            worker_python=args.worker_python,
            upload_url=args.upload_url,
            await_explicit_shutdown=args.await_explicit_shutdown,
            playground=not args.no_playground,
            queue_url=args.queue,
            exit_on_stdin_eof=args.exit_on_stdin_eof,
            limits={f.name: getattr(args, f.name) for f in Limits.fields()},
        )
        run(config)
    except CogkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
