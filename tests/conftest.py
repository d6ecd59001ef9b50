"""Fixtures shared by the command-line tests."""

import json
from dataclasses import dataclass

import pytest

from thalweg.cli import main


@dataclass
class Result:
    """What one ``thalweg`` invocation returned and printed."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, tmp_path, monkeypatch):
    """Run ``thalweg ARGS`` in-process, in a temporary folder."""
    monkeypatch.chdir(tmp_path)

    def run(*args) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def assert_one_line_error(result: Result, *words: str) -> None:
    """A user mistake: exit code 2, one ``error:`` line naming ``words``, no traceback."""
    assert result.code == 2, result.err
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    for word in words:
        assert word in lines[0], lines[0]
