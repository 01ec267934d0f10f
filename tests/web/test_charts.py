"""The SVG charts: waterfall steps add up to the margin, labels and numbers are drawn."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree

import pytest

from serving.web.charts import (
    calibration_svg,
    hit_rates_svg,
    profile_rates_svg,
    rates_chart_svg,
    text_width,
    waterfall,
    waterfall_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def test_waterfall_keeps_the_largest_contributions_and_folds_the_rest() -> None:
    chart = waterfall(
        -3.0,
        [("a", 0.5), ("b", -1.25), ("c", 0.25), ("d", 0.125), ("zero", 0.0)],
        max_bars=2,
    )
    assert [(bar.label, bar.contribution) for bar in chart.bars] == [
        ("b", -1.25),
        ("a", 0.5),
        ("2 other features", 0.375),
    ]
    # Each bar starts where the previous one ended, from the base value.
    assert [(bar.start, bar.end) for bar in chart.bars] == [
        (-3.0, -4.25),
        (-4.25, -3.75),
        (-3.75, -3.375),
    ]
    assert chart.margin == -3.375  # -3 + 0.5 - 1.25 + 0.25 + 0.125


def test_one_folded_feature_is_named_in_the_singular() -> None:
    chart = waterfall(0.0, [("a", 2.0), ("b", 1.0)], max_bars=1)
    assert chart.bars[-1].label == "1 other feature"


@pytest.mark.parametrize("max_bars", [1, 3, 8, 50])
def test_bars_add_up_to_base_plus_every_contribution(max_bars: int) -> None:
    values = [((-1) ** i) * (i + 1) / 7 for i in range(20)]
    chart = waterfall(-2.5, [(f"f{i}", v) for i, v in enumerate(values)], max_bars=max_bars)
    assert math.isclose(chart.margin, -2.5 + math.fsum(values), abs_tol=1e-12)
    assert math.isclose(
        chart.base_value + math.fsum(bar.contribution for bar in chart.bars),
        chart.margin,
        abs_tol=1e-12,
    )
    assert len(chart.bars) == min(max_bars, 20) + (1 if max_bars < 20 else 0)


def test_waterfall_without_contributions_ends_at_the_base_value() -> None:
    assert waterfall(-1.5, []).margin == -1.5


def test_waterfall_svg_draws_one_labelled_bar_per_step_with_escaped_text() -> None:
    chart = waterfall(-1.0, [("value <per kg> & origin", 0.75), ("route", -0.25)])
    svg = waterfall_svg(chart, title="revenue risk")
    root = ElementTree.fromstring(svg)  # well-formed XML: labels are escaped
    bars = root.findall(f"{SVG}g")
    assert [bar.get("class") for bar in bars] == ["bar raises", "bar lowers"]
    texts = ["".join(t.itertext()) for bar in bars for t in bar.findall(f"{SVG}text")]
    assert texts == ["value <per kg> & origin", "+0.75", "route", "-0.25"]
    assert root.get("aria-label") == "revenue risk: base value -1.00, margin -0.50 after 2 steps"
    assert "margin -0.50" in svg and "base -1.00" in svg


def test_waterfall_bar_widths_are_proportional_to_contributions() -> None:
    svg = waterfall_svg(waterfall(0.0, [("a", 2.0), ("b", -1.0)]), title="t")
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    assert len(widths) == 2
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.01)


@pytest.mark.parametrize("contribution", [3.0, -3.0])
def test_the_base_and_margin_labels_stay_inside_the_chart(contribution: float) -> None:
    """The margin at the right edge (or the base at the left) turns its label inwards."""
    svg = waterfall_svg(waterfall(-1.83 - contribution, [("a", contribution)]), title="t")
    root = ElementTree.fromstring(svg)
    width = float(root.get("width") or 0)
    rules = [text for text in root.iter(f"{SVG}text") if text.get("class") == "axis-label"][1:]
    assert [text.text for text in rules] == [f"base {-1.83 - contribution:.2f}", "margin -1.83"]
    for text in rules:
        x, shown = float(text.get("x") or 0), text_width(text.text or "", bold=True)
        start = x - shown if text.get("text-anchor") == "end" else x
        assert start >= 0 and start + shown <= width, (text.text, text.get("text-anchor"))


def test_long_labels_are_shortened_on_the_bar_but_kept_whole_in_its_title() -> None:
    label = "declared value per kg is 90% below the usual for HS 9305 from this origin and route"
    svg = waterfall_svg(waterfall(0.0, [(label, 1.0)]), title="t")
    root = ElementTree.fromstring(svg)
    bar = root.find(f"{SVG}g")
    assert bar is not None
    assert bar.findtext(f"{SVG}title") == f"{label}: +1.00"
    shown = bar.findall(f"{SVG}text")[0].text or ""
    assert len(shown) == 64 and shown.endswith("…")


def test_rates_chart_draws_a_point_per_rate_and_labels_the_rates() -> None:
    svg = rates_chart_svg(
        {"precision": {"0.05": 0.8, "0.1": 0.6}, "recall": {"0.05": 0.2, "0.1": float("nan")}},
        title="weapons",
    )
    root = ElementTree.fromstring(svg)
    assert root.get("aria-label") == "weapons: precision 5% 0.80, 10% 0.60; recall 5% 0.20, 10% nan"
    circles = root.findall(f"{SVG}circle")  # precision: 2 points + legend
    squares = root.findall(f"{SVG}rect")  # recall: 1 finite point + legend
    assert (len(circles), len(squares)) == (3, 2)
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "5%" in labels and "10%" in labels and "inspection rate" in labels


def test_rates_chart_without_measures_says_so() -> None:
    assert rates_chart_svg({}, title="weapons") == (
        '<p class="empty">weapons: no measures at inspection rates.</p>'
    )


def test_calibration_points_sit_on_the_diagonal_when_calibrated() -> None:
    svg = calibration_svg(
        [{"predicted": 0.1, "observed": 0.1, "count": 5}, {"predicted": 0.2, "observed": 0.2}],
        title="revenue calibration",
    )
    root = ElementTree.fromstring(svg)
    points = [(float(c.get("cx", "")), float(c.get("cy", ""))) for c in root.iter(f"{SVG}circle")]
    line = root.find(f"{SVG}line")
    assert line is not None
    x1, y1, x2, y2 = (float(line.get(a, "")) for a in ("x1", "y1", "x2", "y2"))
    for px, py in points:  # on the line from (x1, y1) to (x2, y2)
        assert (px - x1) * (y2 - y1) == pytest.approx((py - y1) * (x2 - x1), rel=1e-3)
    assert (
        calibration_svg([], title="t") == '<p class="empty">t: no calibration curve recorded.</p>'
    )


def _chart_words(svg: str) -> set[str]:
    """The words of a chart's text, titles and aria labels (three letters or more)."""
    root = ElementTree.fromstring(svg)
    texts = [element.text or "" for element in root.iter()] + [root.get("aria-label", "")]
    return {word.casefold() for text in texts for word in re.findall(r"[^\W\d_]{3,}", text)}


@pytest.mark.parametrize("locale", ["sr_Latn", "sq"])
def test_every_word_a_chart_draws_itself_is_translated(locale: str) -> None:
    """Titles and series names come from the page (here "Tt", "Ss"); every other word a chart
    writes must change with the language, and numbers take the locale's decimal sign."""
    from serving.web.i18n import page_language

    words = page_language(locale)
    curve = [{"predicted": 0.012, "observed": 0.01}, {"predicted": 0.05, "observed": 0.07}]
    series = {"Ss": {"0.01": 0.5, "0.05": 0.25}}

    def drawn(language=None) -> list[str]:
        contributions = [(f"f{i}", (-1) ** i / (i + 1)) for i in range(10)]
        steps = waterfall(-1.5, contributions, max_bars=3, words=language)
        other = waterfall(-1.5, [(f"f{i}", 1.0) for i in range(3)], max_bars=1, words=language)
        return [
            waterfall_svg(steps, title="Tt", words=language),
            rates_chart_svg(series, title="Tt", words=language),
            calibration_svg(curve, title="Tt", words=language),
            f'<svg><text>{other.bars[-1].label}</text><text aria-label="">'
            f"{rates_chart_svg({}, title='Tt', words=language)}"
            f"{calibration_svg([], title='Tt', words=language)}</text></svg>",
        ]

    for english, translated in zip(drawn(), drawn(words), strict=True):
        own = _chart_words(english) - {"tt", "ss"}
        assert own, english  # the chart writes words of its own
        left = own & _chart_words(translated)
        assert not left - {"log"}, f"{locale}: {sorted(left)} in {translated}"  # log-šanse
    assert "0,50" in drawn(words)[1] and "0.50" in drawn()[1]  # decimal comma


def test_the_hit_rates_chart_draws_each_weeks_rates_and_the_random_interval() -> None:
    weeks = [
        {
            "week": "2024-02-19",
            "model": {"n": 10, "hits": 6, "rate": 0.6},
            "random": {"n": 5, "hits": 1, "rate": 0.2, "interval": [0.036, 0.624]},
            "estimated_rate": 0.16,
        },
        {
            "week": "2024-02-26",
            "model": {"n": 8, "hits": 2, "rate": 0.25},
            "random": {"n": 0, "hits": 0, "rate": None, "interval": None},
            "estimated_rate": None,
        },
    ]
    svg = hit_rates_svg(weeks, title="revenue")
    root = ElementTree.fromstring(svg)
    assert root.attrib["aria-label"] == (
        "revenue: week of 2024-02-19: model 60.0%, random 20.0%, estimated 16.0%; "
        "week of 2024-02-26: model 25.0%, random none, estimated none"
    )
    points = [title.text for title in root.iter(f"{SVG}title")]
    assert "model picks: 60.0%" in points and "model picks: 25.0%" in points
    assert "random picks (95% interval): 20.0%" in points
    assert "random picks, 95% interval 3.6% to 62.4%" in points  # one whisker: one week has it
    assert len(root.findall(f".//{SVG}line[@class='interval']")) == 1
    # the axis label sits above the legend's rows (a 12 px line apart), not on them
    axis = next(t for t in root.iter(f"{SVG}text") if t.text == "week of lodging (month-day)")
    legend = [
        t
        for t in root.iter(f"{SVG}text")
        if t.text in ("model picks", "random picks (95% interval)")
    ]
    assert legend and all(float(t.get("y", "")) - float(axis.get("y", "")) >= 12 for t in legend)
    assert hit_rates_svg([], title="weapons") == (
        '<p class="empty">weapons: no outcomes recorded.</p>'
    )


def test_the_profile_chart_draws_the_profile_beside_model_and_random_picks() -> None:
    periods = [
        {
            "start": "2024-03-04",
            "hit_rate": 0.5,
            "interval": [0.1, 0.9],
            "model": {"n": 2, "hits": 1, "rate": 0.5, "interval": [0.09, 0.91]},
            "random": {"n": 1, "hits": 0, "rate": 0.0, "interval": [0.0, 0.79]},
        },
        {
            "start": "2024-03-11",
            "hit_rate": None,
            "interval": None,
            "model": {"n": 1, "hits": 1, "rate": 1.0, "interval": [0.21, 1.0]},
            "random": {"n": 0, "hits": 0, "rate": None, "interval": None},
        },
    ]
    svg = profile_rates_svg(periods, title="SALW-1")
    root = ElementTree.fromstring(svg)
    assert root.attrib["aria-label"] == (
        "SALW-1: week of 2024-03-04: profile 50.0%, model 50.0%, random 0.0%; "
        "week of 2024-03-11: profile none, model 100.0%, random none"
    )
    titles = [title.text for title in root.iter(f"{SVG}title")]
    assert "profile: 50.0%" in titles and "model picks: 100.0%" in titles
    assert "profile, 95% interval 10.0% to 90.0%" in titles
    assert "random picks, 95% interval 0.0% to 79.0%" in titles
    whiskers = root.findall(f".//{SVG}line[@class='interval']")
    assert len(whiskers) == 4  # the profile once, the model twice, random once
    # one period's whiskers stand apart: profile left of the model, random right of it
    first = sorted(float(w.attrib["x1"]) for w in whiskers[:3])
    assert first[0] < first[1] < first[2]
    months = profile_rates_svg(periods, title="SALW-1", period="month")
    assert "month of 2024-03-04" in months and ">2024-03<" in months
    assert profile_rates_svg([], title="SALW-1") == (
        '<p class="empty">SALW-1: no outcomes recorded.</p>'
    )


def test_the_model_page_lists_each_rate_with_its_bootstrap_interval() -> None:
    from serving.web.model import rate_intervals

    measures = {
        "precision_at": {"0.05": 0.5, "0.01": 0.8},
        "precision_at_interval": {"0.05": [0.4, 0.6], "0.01": [0.6, 0.95]},
        "recall_at": {"0.05": 0.3},
        "recall_at_interval": {"0.05": [0.2, 0.4]},
    }
    assert rate_intervals(measures) == [
        {"rate": 0.01, "precision": (0.8, [0.6, 0.95])},
        {"rate": 0.05, "precision": (0.5, [0.4, 0.6]), "recall": (0.3, [0.2, 0.4])},
    ]
    assert rate_intervals({"precision_at": {"0.05": 0.5}}) == []  # metrics without intervals


def _overflowing(svg: str) -> list[str]:
    """Texts of a chart drawn (by the font-metrics estimate) past its canvas' left or right
    edge, each with its estimated extent."""
    root = ElementTree.fromstring(svg)
    width = float(root.get("viewBox", "0 0 0 0").split()[2])
    found = []
    for element in root.iter(f"{SVG}text"):
        text = "".join(element.itertext())
        drawn = text_width(text, bold="axis-label" in element.get("class", ""))
        x = float(element.get("x", "0"))
        anchor = element.get("text-anchor", "start")
        start = {"start": x, "middle": x - drawn / 2, "end": x - drawn}[anchor]
        if start < 0 or start + drawn > width:
            found.append(f"{text!r} from {start:.0f} to {start + drawn:.0f} of {width:.0f}")
    return found


@pytest.mark.parametrize("locale", ["en", "sr_Latn", "sq"])
def test_charts_widen_to_their_translated_title_axis_and_legend(locale: str) -> None:
    """A translated title ("Kalibracija: skriveni migranti") is longer than the English one:
    every text a chart draws stays inside its canvas, which widens for it and not otherwise."""
    from serving.web.i18n import page_language

    words = page_language(locale)
    long = "Kalibracija: skriveni migranti i carinske nepravilnosti"
    curve = [{"predicted": 0.012, "observed": 0.01}, {"predicted": 0.05, "observed": 0.07}]
    series = {
        "preciznost": {"0.01": 0.5, "0.05": 0.25},
        "odziv": {"0.01": 0.2, "0.05": 0.4},
        "udeo otkrivenih prihoda": {"0.01": 0.1, "0.05": 0.3},
    }
    weeks = [
        {
            "week": "2024-03-04",
            "model": {"rate": 0.1},
            "random": {"rate": 0.05, "interval": [0.01, 0.2]},
            "estimated_rate": 0.06,
        },
    ]
    steps = waterfall(-1.5, [("f", 0.5)], words=words)
    charts = {
        "waterfall": waterfall_svg(steps, title=long + long, words=words),
        "rates": rates_chart_svg(series, title=long, words=words),
        "calibration": calibration_svg(curve, title=long, words=words),
        "hit rates": hit_rates_svg(weeks, title=long, words=words),
    }
    for name, svg in charts.items():
        assert not _overflowing(svg), (name, _overflowing(svg))
    assert text_width(long, bold=True) > 240  # wider than the default calibration chart

    def canvas(svg: str) -> float:
        return float(ElementTree.fromstring(svg).get("width", ""))

    short = calibration_svg(curve, title="Tt", words=words)
    assert not _overflowing(short)
    assert canvas(short) < canvas(charts["calibration"])  # widened for the long title only
    assert canvas(rates_chart_svg({"a": {"0.01": 0.5}}, title="Tt", words=words)) == 420
