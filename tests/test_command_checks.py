"""Data commands skip Django's system checks: those import every URL and view (~0.5 s and
~28 MB at start-up) for a command that reads rows and writes files; `manage.py check`,
`migrate` and the servers run them."""

from __future__ import annotations

import pytest
from django.core.management import ManagementUtility
from django.core.management.base import BaseCommand

DATA_COMMANDS = [
    ["export_gold", "--benchmark", "none", "--out", "{tmp}/out"],
    ["import_benchmark", "{tmp}/missing.jsonl", "--benchmark", "none"],
    ["import_responses", "{tmp}/missing.jsonl", "--benchmark", "none"],
    ["import_pairs", "{tmp}/missing.jsonl", "--benchmark", "none"],
    ["import_labels", "{tmp}/missing.csv", "--benchmark", "none"],
]


@pytest.mark.django_db
@pytest.mark.parametrize("argv", DATA_COMMANDS, ids=lambda argv: argv[0])
def test_a_data_command_runs_without_the_system_checks(argv, tmp_path, monkeypatch, capsys):
    def checks(*args, **kwargs):
        raise AssertionError("the system checks ran")

    monkeypatch.setattr(BaseCommand, "check", checks)
    with pytest.raises(SystemExit) as exit_:  # the command's own error: nothing to read
        ManagementUtility(["manage.py", *(a.format(tmp=tmp_path) for a in argv)]).execute()
    assert exit_.value.code == 1
    assert "CommandError" in capsys.readouterr().err


@pytest.mark.django_db
def test_other_commands_still_run_them(monkeypatch):
    ran = []
    monkeypatch.setattr(BaseCommand, "check", lambda *a, **k: ran.append(True))
    ManagementUtility(["manage.py", "showmigrations", "--list", "annotation"]).execute()
    assert ran
