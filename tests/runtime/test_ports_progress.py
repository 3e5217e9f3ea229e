"""A busy port is one clear line before anything runs; uv's progress is reported while it installs."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from cogkit.errors import BuildError, UsageError
from cogkit.runtime import venv
from cogkit.runtime.backend import Event, Progress
from cogkit.runtime.ports import ensure_free, free_port


def test_a_busy_port_is_named_with_a_hint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError) as err:
            ensure_free("127.0.0.1", port)
    assert str(port) in err.value.message and "already in use" in err.value.message
    assert "-p" in str(err.value.hint)
    assert err.value.exit_code == 2


def test_a_free_port_passes_and_stays_free() -> None:
    port = free_port()
    ensure_free("127.0.0.1", port)
    ensure_free("127.0.0.1", port)


def test_an_address_of_another_machine_is_named() -> None:
    with pytest.raises(UsageError, match="not an address of this machine"):
        ensure_free("192.0.2.1", free_port())  # TEST-NET-1: never assigned to a host


# Stands in for `uv -v`: its lines, with pauses longer than the progress interval between them.
FAKE_UV = r"""
import sys, time
print("Using Python 3.11.7 environment at: .cogkit/venv", flush=True)
print("DEBUG Selecting: torch==2.4.1 [compatible] (torch-2.4.1-cp311-none-linux_x86_64.whl)", flush=True)
time.sleep(1.5)
print("Resolved 3 packages in 1.2s", flush=True)
print("DEBUG Sending fresh GET request for: https://files.example/p/torch-2.4.1-cp311-none-linux_x86_64.whl", flush=True)
time.sleep(1.5)
print(" + torch==2.4.1", flush=True)
sys.exit(int(sys.argv[1]))
"""


def test_uv_progress_names_the_package_and_the_elapsed_time(tmp_path: Path) -> None:
    events: list[Event] = []
    venv._uv([sys.executable, "-c", FAKE_UV, "0"], cwd=tmp_path, step="installing", report=events.append)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done and progress[-1].elapsed_s >= 3.0
    running = progress[:-1]
    assert running and all(not e.done and e.step == "installing" for e in running)
    assert [e.elapsed_s for e in running] == sorted(e.elapsed_s for e in running)
    details = {e.detail for e in running}
    assert "resolving torch==2.4.1" in details or "Resolved 3 packages in 1.2s" in details
    assert "downloading torch-2.4.1-cp311-none-linux_x86_64.whl" in details


def test_a_uv_failure_quotes_uvs_own_lines(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as err:
        venv._uv([sys.executable, "-c", FAKE_UV, "1"], cwd=tmp_path, step="installing", report=lambda e: None)
    assert "Resolved 3 packages" in str(err.value) and "DEBUG" not in str(err.value)


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        ("DEBUG Selecting: numpy==2.1.0 [compatible] (numpy-2.1.0.tar.gz)", "resolving numpy==2.1.0"),
        ("DEBUG Sending fresh GET request for: https://x/y/six-1.17.0-py2.py3-none-any.whl", "downloading six-1.17.0-py2.py3-none-any.whl"),
        ("Prepared 5 packages in 10ms", "Prepared 5 packages in 10ms"),
        ("DEBUG Found fresh response for: https://pypi.org/simple/six/", None),
        (" + six==1.17.0", None),
        ("", None),
    ],
)  # fmt: skip
def test_uv_detail(line: str, detail: str | None) -> None:
    assert venv.uv_detail(line) == detail
