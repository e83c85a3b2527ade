"""Every command explains itself: ``python -m hmr_ros <command> --help`` prints its usage and exits 0 (argparse
expands ``%`` in help texts, so a stray one breaks only the help of the command that has it)."""
import pytest

from hmr_ros.cli import COMMANDS, main


def command_names() -> list[str]:
    import argparse

    sub = argparse.ArgumentParser().add_subparsers()
    for command in COMMANDS:
        command.add_parser(sub)
    return sorted(sub.choices)


@pytest.mark.parametrize("name", command_names())
def test_help_prints_the_usage(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and f" {name} " in out.splitlines()[0] + " "
