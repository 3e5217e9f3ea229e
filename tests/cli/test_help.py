"""What a user sees before running anything: help with examples, whole summaries, the `run` alias,
--debug on every command, and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cogkit.cli.main import cli

COMMANDS = sorted(cli.commands)


def test_every_command_is_listed_with_its_whole_summary() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    listing = result.output.split("Commands:")[1]
    assert "..." not in listing and "…" not in listing
    for name, command in cli.commands.items():
        assert f"  {name} " in listing
        assert command.get_short_help_str(limit=45) == command.short_help, name


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_examples(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    examples = result.output.split("Examples:")[1].splitlines()
    assert any(line.strip().startswith("cogkit ") or "cogkit " in line for line in examples), result.output


def test_run_is_shown_as_the_alias_of_predict() -> None:
    listing = CliRunner().invoke(cli, ["--help"]).output
    assert "run         Alias of predict" in listing
    assert "Alias of `cogkit predict`" in CliRunner().invoke(cli, ["run", "--help"]).output


@pytest.mark.parametrize(
    "args", [["python", "train.py"], ["python", "-c", "print(1)"], ["bash", "-lc", "ls"]], ids=str
)
def test_cogs_old_run_meaning_points_at_exec(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 2
    assert f"cogkit exec {' '.join(args)}" in result.output.replace("'", "")


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_is_accepted_by_every_command(name: str, where: str) -> None:
    args = ["--debug", name, "--help"] if where == "before" else [name, "--debug", "--help"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_debug_after_the_subcommand_shows_the_traceback() -> None:
    plain = CliRunner().invoke(cli, ["predict", "img", "-e", "NOEQUALS"])
    debug = CliRunner().invoke(cli, ["predict", "img", "-e", "NOEQUALS", "--debug"])
    assert plain.exit_code == debug.exit_code == 2
    assert "Traceback" not in plain.output
    assert "Traceback" in debug.output and "expected KEY=VALUE" in debug.output


def test_completion_prints_a_script_that_completes() -> None:
    script = CliRunner().invoke(cli, ["completion", "bash"])
    assert script.exit_code == 0 and "_COGKIT_COMPLETE=bash_complete" in script.output
    # What the script asks for when the user presses Tab after `cogkit pre`, run for real.
    env = {**os.environ, "_COGKIT_COMPLETE": "bash_complete", "COMP_WORDS": "cogkit pre", "COMP_CWORD": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "cogkit"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert "plain,predict" in out.stdout.splitlines(), out
    env.update(COMP_WORDS="cogkit serve --runtime ", COMP_CWORD="3")
    out = subprocess.run(
        [sys.executable, "-m", "cogkit"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert {"plain,auto", "plain,docker", "plain,local"} <= set(out.stdout.splitlines()), out


def test_unknown_shell_is_refused() -> None:
    result = CliRunner().invoke(cli, ["completion", "tcsh"])
    assert result.exit_code == 2 and "bash" in result.output


def test_readme_mentions_the_completion_command() -> None:
    from tests.cli.test_docs import REPO

    assert "cogkit completion" in (REPO / "README.md").read_text()
