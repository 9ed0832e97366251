"""Write the boards as Grafana JSON: ``python -m socialpulse.grafana.build [DIR] [--check]``.

DIR defaults to ``grafana/dashboards``. With ``--check`` nothing is written; the exit status
is 1 when a file differs from what the code builds (a test runs this).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from socialpulse.grafana.boards import BOARDS

DEFAULT_DIR = Path("grafana/dashboards")


def render(name: str) -> str:
    """The board ``name`` as the JSON text of its file."""
    return json.dumps(BOARDS[name]().json(), indent=2, ensure_ascii=False) + "\n"


def build(directory: Path, check: bool = False) -> list[str]:
    """Write (or with ``check`` compare) every board; return the files that differed."""
    stale = []
    for name in BOARDS:
        path = directory / f"{name}.json"
        text = render(name)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(str(path))
            if not check:
                path.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str]) -> int:
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    if len(rest) > 1 or any(a.startswith("-") for a in rest):
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(rest[0]) if rest else DEFAULT_DIR
    if not directory.is_dir():
        print(f"build: {directory} is not a directory", file=sys.stderr)
        return 2
    stale = build(directory, check)
    for path in stale:
        print(f"{'stale' if check else 'wrote'} {path}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
