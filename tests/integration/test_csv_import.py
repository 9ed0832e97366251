"""`socialpulse produce csv` end to end: a mapped CSV file through the broker to exact KPIs."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.conftest import CLI, Samples, Stack, kpi, value

pytestmark = pytest.mark.integration


def test_produce_csv_with_a_mapping_gives_exact_kpis(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    brand = f"csv-{stack.tag}"
    now = time.time()

    def iso(ago: float) -> str:
        return datetime.fromtimestamp(now - ago, UTC).isoformat().replace("+00:00", "Z")

    rows = [
        "post_id;created;type;views;follower_count;tags;body",  # line 1
        f"p1;{iso(120)};impression;500;;;",  # RFC 3339
        f"p2;{int((now - 110) * 1000)};impression;250;;;",  # epoch ms
        f"p3;{now - 100:.3f};like;;;;",  # epoch s
        f"p4;{iso(90)};comment;;;#launch;Great launch!",
        f"p5;{iso(80)};impression;many;;;",  # line 6: refused
        f"p6;{iso(70)};share;3;;;",
        f'p7;{iso(60)};mention;;1200;"#acme, #launch";Love the new phone',
        f"p8;{iso(50)};mention;;50;;Terrible support",
        "",
        f"p9;{iso(40)};click;2;;;",
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    result = subprocess.run(
        [
            *CLI,
            "produce",
            "csv",
            str(path),
            "--map",
            "id=post_id",
            "--map",
            "ts=created",
            "--map",
            "kind=type",
            "--map",
            "count=views",
            "--map",
            "author.followers=follower_count",
            "--map",
            "hashtags=tags",
            "--map",
            "text=body",
            "--set",
            f"brand={brand}",
            "--set",
            "platform=x",
        ],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr  # one row was refused
    assert "line 6: bad_type: count 'many' is not a whole number" in result.stderr
    assert "sent 8 events; refused 1 (bad_type 1)" in result.stdout
    assert "csv export.csv [" in result.stderr  # the progress bar over the file's bytes

    def ready(s: Samples) -> bool:
        return (
            kpi(s, "socialpulse_impressions", brand) == 750
            and kpi(s, "socialpulse_engagements", brand) == 7
            and kpi(s, "socialpulse_mentions", brand) == 2
        )

    s = stack.wait_for(ready, seconds=30)
    assert kpi(s, "socialpulse_impressions", brand) == 750  # p1 + p2, not the refused p5
    assert kpi(s, "socialpulse_engagements", brand) == 7  # like, comment, 3 shares, 2 clicks
    assert kpi(s, "socialpulse_mentions", brand) == 2
    assert kpi(s, "socialpulse_impressions", brand, platform="x") == 750
    assert value(s, "socialpulse_events_total", brand=brand, platform="x", kind="mention") == 2
    assert kpi(s, "socialpulse_click_through_ratio", brand) == pytest.approx(2 / 750)
