"""`python -m cogkit.server`: the command of every cogkit image."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cogkit.errors import CogkitError
from cogkit.server.config import resolve_config
from cogkit.server.launch import run


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
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
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
