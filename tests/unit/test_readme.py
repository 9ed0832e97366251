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
