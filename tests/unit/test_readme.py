"""The README's generated tables match the code, and it names every command and setting."""

from __future__ import annotations

from pathlib import Path

from socialpulse.agents.docs import render
from socialpulse.agents.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_generated_sections_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `make docs` to regenerate the README tables"


def test_every_setting_and_command_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"SOCIALPULSE_{name.upper()}" in text
    for command in ("broker", "worker", "generate", "replay", "demo", "board"):
        assert f"socialpulse {command}" in text
    assert "make demo" in text and "make test" in text and "socialpulse demo" in text


def test_the_code_names_only_commands_that_exist() -> None:
    """Docstrings and help texts that say ``socialpulse NAME`` name a real command."""
    import re

    from socialpulse.agents.cli import build_commands

    commands = {c.name for c in build_commands(Settings())} | {"worker"}  # Faust's own
    root = README.parent
    named: dict[str, str] = {}
    for folder in ("agents", "streams", "alerts", "grafana", "bench"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in re.findall(r"`socialpulse ([a-z][a-z-]*)", text):
                named.setdefault(name, str(path.relative_to(root)))
    unknown = {name: where for name, where in named.items() if name not in commands}
    assert named and not unknown, f"commands that do not exist: {unknown}"
