"""The docs say what the code does: settings, commands and CI stay in step."""

from __future__ import annotations

import re
from pathlib import Path

from modelyard.settings import SETTINGS_SPEC, env_var

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_with_flag_and_environment_variable() -> None:
    for spec in SETTINGS_SPEC:
        assert f"`{spec.flag}`" in README, spec.flag
        assert f"`{env_var(spec)}`" in README, env_var(spec)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    test_command = next(c for c in commands if "test.sh" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_server_command_uses_the_cli_entry_point() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert any(c.endswith("modelyard server") for c in commands)
