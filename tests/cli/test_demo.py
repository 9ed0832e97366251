"""The demo's plan: what its generator sends, and the config its worker gets."""

from __future__ import annotations

import io

import pytest

from socialpulse.agents.kpis import GOAL_KPIS
from socialpulse.agents.settings import FileConfig, WorkerSettings
from socialpulse.cli.demo import DEMO_GOALS, DemoPlan, demo_config, run_demo
from socialpulse.streams.vocabulary import DEFAULT_BRANDS


def test_generator_args_backfill_then_script_a_crisis_for_the_last_brand() -> None:
    args = DemoPlan(rate=150, brands=3, seed=2, history=600, crisis_in=20).generator_args()
    assert args[:7] == ["generate", "--rate", "150", "--brands", "3", "--seed", "2"]
    assert args[args.index("--history") + 1] == "600"
    assert args[args.index("--crisis") + 1] == DEFAULT_BRANDS[2]
    assert args[args.index("--crisis-in") + 1] == "20"
    assert "--crisis" not in DemoPlan(crisis=False).generator_args()


def test_demo_config_gives_every_brand_a_goal_and_one_group() -> None:
    brands = list(DEFAULT_BRANDS)
    config = FileConfig.model_validate(demo_config(brands))  # a valid config file
    goals = [config.brands[b].goal for b in brands]
    assert goals[:4] == ["awareness", "conversion", "leads", "reputation"]
    assert set(goals) == set(DEMO_GOALS) == set(GOAL_KPIS)
    assert list(config.competitor_groups.values()) == [brands]


@pytest.mark.parametrize("brands", [0, len(DEFAULT_BRANDS) + 1])
def test_a_bad_brand_count_is_refused_before_anything_starts(
    brands: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(WorkerSettings(), DemoPlan(brands=brands), out=io.StringIO()) == 2
    assert "--brands must lie in" in capsys.readouterr().err


def test_the_screen_redraws_in_place_and_keeps_the_urls_and_the_newest_alerts() -> None:
    from socialpulse.cli.demo import AlertFeed, Screen, render_table

    feed = AlertFeed()
    alert = {"id": "a1", "brand": "umbrella", "rule": "negative_sentiment", "severity": "warning"}
    alert["summary"] = "net sentiment fell"
    assert len(feed.update([alert], now=0)) == 1 and feed.update([alert], now=1) == []
    for n in range(30):  # more alerts than fit: the newest stay on screen
        feed.update([alert, {**alert, "id": f"b{n}", "rule": f"rule{n}"}], now=2)
    resolved = feed.update([], now=3)
    assert len(resolved) == 2 and all("RESOLVED" in line for line in resolved)
    screen = Screen(["socialpulse demo", "live board  http://127.0.0.1:6066/"], "up 0m10s")
    screen.table = render_table({"acme": {"socialpulse_impressions": 1234.0}})
    text = screen.render(feed.lines, width=100, height=20)
    assert text.startswith("\x1b[H") and "\x1b[2J" not in text  # home, no full clear
    assert text.endswith("\x1b[J")  # what was below is cleared
    lines = text.split("\n")
    assert len(lines) <= 20 and "http://127.0.0.1:6066/" in lines[1]
    assert "umbrella" in text and "negative_sentiment" in text and "RESOLVED" in lines[-2]
    assert "acme" in text and "1,234" in text
