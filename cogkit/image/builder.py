"""Builder backends: run `docker build` as a subprocess and follow its progress.

BuildKit (the default) gets `--progress=plain`, whose records `StepLog` parses into steps and
timings; the legacy builder is the fallback when no client can drive BuildKit. Secrets are passed
by reference (`--secret id=…,src=…|env=…`) and their values are redacted from every line we keep.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cogkit.errors import BuildError, UsageError
from cogkit.image.engine import BuilderCLI, builder
from cogkit.image.progress import Step, StepLog

OnLine = Callable[[str, Step | None], None]
BUILD_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Secret:
    """A `--secret id=NAME,src=FILE` or `--secret id=NAME,env=VAR` reference."""

    id: str
    src: str | None = None
    env: str | None = None

    @classmethod
    def parse(cls, text: str) -> Secret:
        fields: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep or key not in ("id", "src", "source", "env", "type"):
                raise UsageError(
                    f"--secret {text!r}: cannot read {part!r}",
                    hint="use --secret id=NAME,src=FILE or --secret id=NAME,env=VAR",
                )
            fields["src" if key == "source" else key] = value
        if "id" not in fields or ("src" in fields) == ("env" in fields):
            raise UsageError(
                f"--secret {text!r}: needs id= and exactly one of src= or env=",
                hint="use --secret id=NAME,src=FILE or --secret id=NAME,env=VAR",
            )
        secret = cls(id=fields["id"], src=fields.get("src"), env=fields.get("env"))
        secret.value()  # fail now, not half-way through the build
        return secret

    def value(self) -> str:
        """The secret's value, read only to redact it from build output."""
        if self.src is not None:
            path = Path(self.src).expanduser()
            if not path.is_file():
                raise UsageError(f"--secret id={self.id}: file {self.src} does not exist")
            return path.read_text(errors="replace").strip()
        if self.env not in os.environ:
            raise UsageError(f"--secret id={self.id}: environment variable {self.env} is not set")
        return os.environ[self.env or ""]

    def flag(self) -> str:
        if self.src is not None:
            return f"id={self.id},src={Path(self.src).expanduser().resolve()}"
        return f"id={self.id},env={self.env}"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    steps: list[Step]
    seconds: float
    backend: str


def build(
    context_dir: Path,
    *,
    dockerfile: Path,
    tag: str,
    labels: Mapping[str, str] | None = None,
    secrets: Sequence[Secret] = (),
    no_cache: bool = False,
    on_line: OnLine | None = None,
    cli: BuilderCLI | None = None,
) -> BuildResult:
    """Build `context_dir` into `tag`; raise BuildError naming the failing step and its output."""
    cli = cli or builder()
    if secrets and cli.kind == "legacy":
        raise BuildError(
            "--secret needs BuildKit, and this docker client cannot run BuildKit builds",
            hint="install the docker buildx plugin, or use a docker client older than 23.0",
        )
    log = StepLog(redact=[s.value() for s in secrets])
    with tempfile.TemporaryDirectory(prefix="cogkit-build-") as tmp:
        iidfile = Path(tmp) / "iid"
        args = [cli.path, "build", "-f", str(dockerfile), "-t", tag, "--iidfile", str(iidfile)]
        if cli.kind == "buildkit":
            args.append("--progress=plain")
        else:  # the legacy builder keeps a failed step's container unless told otherwise
            args.append("--force-rm")
        if no_cache:
            args.append("--no-cache")
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        for secret in secrets:
            args += ["--secret", secret.flag()]
        args.append(str(context_dir))
        started = time.monotonic()
        code = _run(args, env=cli.env(), log=log, on_line=on_line)
        seconds = time.monotonic() - started
        log.finish(ok=code == 0)
        if code != 0:
            raise BuildError(log.failure_message(), hint=_failure_hint(log))
        image_id = iidfile.read_text().strip()
    return BuildResult(image_id=image_id, steps=log.instructions, seconds=seconds, backend=cli.kind)


def _run(args: list[str], *, env: dict[str, str], log: StepLog, on_line: OnLine | None) -> int:
    """Run the build, feeding each output line to `log`; kill it on timeout or Ctrl-C."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        errors="replace",
        bufsize=1,
    )
    timer = threading.Timer(BUILD_TIMEOUT_S, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            step = log.feed(raw)
            if on_line is not None:
                on_line(log.clean(raw.rstrip("\n")), step)
        return proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _failure_hint(log: StepLog) -> str | None:
    step = log.failed_step()
    if step is None:
        return "run again with --progress plain to see the builder's full output"
    name = step.name.lower()
    if any("CERTIFICATE_VERIFY_FAILED" in line or "certificate verify failed" in line for line in step.tail):
        return "the build cannot verify TLS certificates (a proxy?): pass --ca-cert with your CA bundle"
    if "pip install" in name or "uv pip" in name or "requirements" in name:
        return "check the package names and versions in your requirements (python_requirements in cog.yaml)"
    if "apt-get" in name:
        return "check the names under build.system_packages in cog.yaml"
    if " run " in f" {name}":
        return "fix the failing command under build.run in cog.yaml, or run it locally to debug"
    return "run again with --progress plain to see the builder's full output"
