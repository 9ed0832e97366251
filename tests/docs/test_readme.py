"""The README (a landing page) and the pages of docs/: generated tables match the code,
every command and setting is documented, every link resolves, and nothing cites the
contract under an old name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from socialpulse.agents.settings import WorkerSettings
from socialpulse.cli.docs import SECTIONS, SETTINGS_KINDS, render, render_pages

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)|\!\[[^\]]*\]\(([^)\s]+)\)")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _docs_text() -> str:
    return "\n".join(_text(p) for p in PAGES)


def test_generated_sections_are_current() -> None:
    assert render_pages(DOCS) == {}, "run `make docs` to regenerate the tables of docs/"


def test_every_generated_section_is_in_exactly_one_page() -> None:
    for name in SECTIONS:
        holders = [p.name for p in PAGES if f"<!-- {name}:begin -->" in _text(p)]
        assert len(holders) == 1, (name, holders)


def test_render_refuses_a_text_without_the_sections() -> None:
    with pytest.raises(ValueError):
        render("no sections here")


def test_every_setting_and_command_is_documented() -> None:
    settings = _text(DOCS / "configuration.md")
    for kind, _ in SETTINGS_KINDS:  # every process's settings
        for name in kind.model_fields:
            assert f"SOCIALPULSE_{name.upper()}" in settings
    for name in WorkerSettings.model_fields:
        assert f"SOCIALPULSE_{name.upper()}" in settings
    commands = _text(DOCS / "quickstart.md")
    for command in ("broker", "worker", "generate", "replay", "demo", "board", "dlq", "ingest"):
        assert f"socialpulse {command}" in commands
    assert "socialpulse_events_total" in _text(DOCS / "kpis.md")
    assert "socialpulse_event_volume_total" in _text(DOCS / "kpis.md")


def test_the_readme_is_a_short_landing_page() -> None:
    text = _text(README)
    assert len(text.splitlines()) < 60
    assert "make demo" in text and "make test" in text and "socialpulse demo" in text
    assert "docs/images/live-board.png" in text
    for page in ("quickstart", "events", "kpis", "configuration"):
        assert f"docs/{page}.md" in text


def _anchors(page: Path) -> set[str]:
    out, fence = set(), False
    for line in _text(page).splitlines():
        if line.startswith("```"):
            fence = not fence
        m = re.match(r"^#{1,6} (.*)$", line)
        if m and not fence:
            title = re.sub(r"[^\w\- ]", "", m.group(1).replace("`", "")).strip().lower()
            out.add(re.sub(r" +", "-", title))
    return out


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_link_resolves(page: Path) -> None:
    for m in LINK.finditer(_text(page)):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: {target} does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{page.name}: no #{anchor} in {file.name}"


def test_the_site_lists_every_page() -> None:
    config = yaml.safe_load(_text(ROOT / "mkdocs.yml"))
    listed = {next(iter(item.values())) for item in config["nav"]}
    assert listed == {p.name for p in PAGES}, "add the page to the nav of mkdocs.yml"
    assert config["strict"] is True


def test_nothing_cites_the_contract_under_its_old_names() -> None:
    sources = [
        *ROOT.glob("agents/**/*.py"),
        *ROOT.glob("streams/**/*.py"),
        *ROOT.glob("grafana/**/*.py"),
        *ROOT.glob("alerts/**/*.py"),
        README,
        *PAGES,
    ]
    for path in sources:
        text = _text(path)
        assert not re.search(r"(?<![/\w])(EVENTS|KPIS)\.md", text), path


def test_the_code_names_only_commands_that_exist() -> None:
    """Docstrings and help texts that say ``socialpulse NAME`` name a real command."""
    import re

    from socialpulse.cli.main import build_commands

    commands = {c.name for c in build_commands()} | {"worker"}  # Faust's own
    root = ROOT
    named: dict[str, str] = {}
    for folder in ("agents", "streams", "alerts", "grafana", "bench"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in re.findall(r"`socialpulse ([a-z][a-z-]*)", text):
                named.setdefault(name, str(path.relative_to(root)))
    unknown = {name: where for name, where in named.items() if name not in commands}
    assert named and not unknown, f"commands that do not exist: {unknown}"


def test_every_import_the_docs_show_works() -> None:
    """A snippet of the README or docs/ that imports socialpulse names a module and names
    that exist (a module moved, a class renamed: the snippet would fail a reader)."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    pattern = re.compile(
        r"^(from socialpulse[\w.]* import (?:\([^)]*\)|.*)|import socialpulse\S*)", re.M
    )
    shown = [(page.name, m.group(1)) for page in pages for m in pattern.finditer(_text(page))]
    assert shown, "no snippet imports socialpulse: the pattern is wrong"
    for page, line in shown:
        try:
            exec(compile(line, page, "exec"), {})
        except ImportError as exc:
            raise AssertionError(f"{page}: {line!r}: {exc}") from None
