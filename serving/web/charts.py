"""SVG charts of the web pages: SHAP waterfalls, metrics at inspection rates, calibration.

Pure functions from numbers to an SVG string, drawn on the server so the pages need no
JavaScript and no plotting library at request time. Every chart carries a ``<title>`` and an
``aria-label``; every bar and point is labelled with its number, so a reader never depends on
colour alone. Every word a chart draws comes from the pages' catalogue and every number is
written as the page's locale writes it (``words``: English when not given).

Translations are longer than English ("Kalibracija: oružje", "kalibrimi për armë të zjarrit"),
so a chart sizes itself to its text: `text_width` estimates how wide a text is drawn from
the advance widths of DejaVu Sans (the pages' fallback font and Debian's default), and each
chart widens its canvas to fit its title, axis label and legend.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from features.i18n import DEFAULT_LOCALE, Language
from serving.web.i18n import fixed_decimals, page_language

MAX_LABEL_CHARS = 64
RAISES_COLOUR = "#b3261e"  # a contribution that raises the risk
LOWERS_COLOUR = "#1b6e3a"  # a contribution that lowers it
SERIES_COLOURS = ("#1f4e99", "#b3261e", "#6b4c00")
SERIES_MARKERS = ("circle", "square", "diamond")
FONT_SIZE = 12.0  # px: svg.chart's font-size in static/style.css
BOLD = 1.1  # .axis-label is bold, drawn wider
# Advance widths of DejaVu Sans in em (a letter with diacritics as its base letter), rounded
# up; a character not listed is as wide as the widest common lowercase letters.
_WIDTHS: dict[str, float] = {
    **dict.fromkeys("ijl'|", 0.28),
    **dict.fromkeys(" .,:;!", 0.32),
    **dict.fromkeys("ftI()[]{}", 0.4),
    **dict.fromkeys("r-", 0.42),
    **dict.fromkeys("sz", 0.53),
    **dict.fromkeys("acekvxy", 0.6),
    **dict.fromkeys("bdghnopqu0123456789", 0.64),
    **dict.fromkeys("mw", 0.98),
    **dict.fromkeys("MW%", 1.0),
}
_LOWERCASE, _UPPERCASE = 0.64, 0.78


def text_width(text: str, *, bold: bool = False, size: float = FONT_SIZE) -> float:
    """How wide ``text`` is drawn, in px, estimated from DejaVu Sans' advance widths."""
    ems = 0.0
    for character in text:
        base = unicodedata.normalize("NFD", character)[:1] or character
        if unicodedata.combining(character):
            continue
        width = _WIDTHS.get(base)
        if width is None:
            width = _UPPERCASE if base.isupper() else _LOWERCASE
        ems += width
    return ems * size * (BOLD if bold else 1.0)


def _fitting(width: float, *needed: float) -> int:
    """A canvas width: ``width``, or wider when a text needs it."""
    return math.ceil(max(width, *needed))


@dataclass(frozen=True)
class WaterfallBar:
    """One step of a waterfall: the margin before and after one feature's contribution."""

    label: str
    contribution: float
    start: float
    end: float


@dataclass(frozen=True)
class Waterfall:
    """How one threat's raw margin is built: base value, then each contribution in turn."""

    base_value: float
    bars: tuple[WaterfallBar, ...]

    @property
    def margin(self) -> float:
        """Where the last bar ends: the model's raw margin (log-odds) for the declaration."""
        return self.bars[-1].end if self.bars else self.base_value


def _words(words: Language | None) -> Language:
    return words if words is not None else page_language(DEFAULT_LOCALE)


def waterfall(
    base_value: float,
    contributions: Sequence[tuple[str, float]],
    *,
    max_bars: int = 8,
    words: Language | None = None,
) -> Waterfall:
    """The waterfall of one explanation: largest contributions first, the rest in one bar.

    Args:
        base_value: the booster's expected margin (SHAP base value).
        contributions: (label, contribution) per feature, in margin units.
        max_bars: bars for single features; the others are summed into one
            "N other features" bar, so the last bar always ends at the full margin.
        words: the language of that bar's label.
    """
    ranked = sorted(
        (item for item in contributions if item[1] != 0.0), key=lambda item: -abs(item[1])
    )
    shown, rest = ranked[:max_bars], ranked[max_bars:]
    steps = list(shown)
    if rest:
        others = math.fsum(value for _, value in rest)
        label = _words(words).ngettext(
            "%(count)s other feature", "%(count)s other features", len(rest)
        ) % {"count": len(rest)}
        steps.append((label, others))
    bars = []
    position = float(base_value)
    for label, value in steps:
        bars.append(WaterfallBar(label, float(value), position, position + float(value)))
        position += float(value)
    return Waterfall(float(base_value), tuple(bars))


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _signed(words: Language, value: float) -> str:
    return ("-" if math.copysign(1.0, value) < 0 else "+") + fixed_decimals(words, abs(value), 2)


def waterfall_svg(
    chart: Waterfall, *, title: str, width: int = 900, words: Language | None = None
) -> str:
    """The waterfall as horizontal bars: red rightwards raises the risk, green leftwards lowers it.

    Each bar is labelled with its feature text and signed contribution; the base value and the
    final margin are drawn as labelled rules.
    """
    words = _words(words)
    label_width, value_width, row_height, top, bottom = 440, 60, 26, 30, 34
    plot_left, plot_right = label_width, width - value_width
    points = [chart.base_value, *(bar.end for bar in chart.bars)]
    low, high = min(points), max(points)
    if high - low < 1e-9:
        low, high = low - 1.0, high + 1.0
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return plot_left + (value - low) / (high - low) * (plot_right - plot_left)

    height = top + row_height * len(chart.bars) + bottom
    reading = words.gettext("log-odds; right raises the risk")
    heading = f"{title} ({reading})"
    width = _fitting(width, plot_left + text_width(heading, bold=True) + 8)
    plot_right = width - value_width
    summary = words.ngettext(
        "%(title)s: base value %(base)s, margin %(margin)s after %(count)s step",
        "%(title)s: base value %(base)s, margin %(margin)s after %(count)s steps",
        len(chart.bars),
    ) % {
        "title": title,
        "base": fixed_decimals(words, chart.base_value, 2),
        "margin": fixed_decimals(words, chart.margin, 2),
        "count": len(chart.bars),
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart waterfall" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(summary)}">',
        f"<title>{escape(summary)}</title>",
        f'<text x="{plot_left}" y="18" class="axis-label">{escape(heading)}</text>',
    ]
    for row, bar in enumerate(chart.bars):
        y = top + row * row_height
        left, right = sorted((x(bar.start), x(bar.end)))
        raises = bar.contribution > 0
        colour = RAISES_COLOUR if raises else LOWERS_COLOUR
        parts.append(
            f'<g class="bar {"raises" if raises else "lowers"}">'
            f"<title>{escape(bar.label)}: {_signed(words, bar.contribution)}</title>"
            f'<text x="{plot_left - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(_short(bar.label))}</text>"
            f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1.0):.1f}" '
            f'height="{row_height - 8}" fill="{colour}"/>'
            f'<text x="{plot_right + 6}" y="{y + 17}">{_signed(words, bar.contribution)}</text>'
            "</g>"
        )
    end = top + row_height * len(chart.bars)
    for value, name, anchor in (
        (chart.base_value, words.gettext("base %(value)s"), "end"),
        (chart.margin, words.gettext("margin %(value)s"), "start"),
    ):
        name = name % {"value": fixed_decimals(words, value, 2)}
        # a label that would run past an edge turns to the other side of its rule
        drawn = text_width(name, bold=True)
        if anchor == "start" and x(value) + drawn > width:
            anchor = "end"
        elif anchor == "end" and x(value) - drawn < 0:
            anchor = "start"
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{top - 4}" x2="{x(value):.1f}" y2="{end + 4}" '
            'class="rule" stroke="#333" stroke-dasharray="3 3"/>'
            f'<text x="{x(value):.1f}" y="{end + 20}" text-anchor="{anchor}" '
            f'class="axis-label">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _marker(kind: str, cx: float, cy: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "diamond":
        return (
            f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx + 5:.1f},{cy:.1f} {cx:.1f},{cy + 5:.1f} '
            f'{cx - 5:.1f},{cy:.1f}" fill="{colour}"/>'
        )
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}"/>'


def rates_chart_svg(
    series: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    width: int = 420,
    height: int = 240,
    words: Language | None = None,
) -> str:
    """Lines of measures (precision, recall, revenue share) against the inspection rate.

    Args:
        series: measure name -> {inspection rate as text ("0.05"): value in [0, 1]}; NaN
            values are left out.
        title: what the chart shows (the threat).
        words: the language of the axis and the numbers.
    """
    words = _words(words)
    left, right, top, bottom = 44, 16, 28, 58
    rates = sorted({float(rate) for values in series.values() for rate in values})
    if not rates:
        empty = words.gettext("%(title)s: no measures at inspection rates.")
        return f'<p class="empty">{escape(empty % {"title": title})}</p>'
    span = (rates[0], rates[-1]) if rates[-1] > rates[0] else (rates[0] - 0.01, rates[0] + 0.01)

    def x(rate: float) -> float:
        return left + (rate - span[0]) / (span[1] - span[0]) * (width - left - right)

    def y(value: float) -> float:
        return top + (1.0 - value) * (height - top - bottom)

    axis = words.gettext("inspection rate")
    # legend entries side by side, each as wide as its name
    legend_x, legend_at = float(left), []
    for name in series:
        legend_at.append(legend_x)
        legend_x += 12 + text_width(name) + 16
    width = _fitting(
        width,
        left + text_width(title, bold=True) + right,
        legend_x + right,
        left + text_width(axis, bold=True) + right,
    )
    label = f"{title}: " + "; ".join(
        f"{name} "
        + ", ".join(
            f"{words.number('percent', float(r))} {fixed_decimals(words, v, 2)}"
            for r, v in sorted(values.items(), key=_rate_order)
        )
        for name, values in series.items()
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart rates" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<text x="{left}" y="16" class="axis-label">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" '
            'stroke="#ccc"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{fixed_decimals(words, tick, 1)}</text>"
        )
    for rate in rates:
        parts.append(
            f'<text x="{x(rate):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{words.number('percent', rate)}</text>"
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - bottom + 32}" '
        f'text-anchor="middle" class="axis-label">{escape(axis)}</text>'
    )
    for index, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        marker = SERIES_MARKERS[index % len(SERIES_MARKERS)]
        finite = sorted(
            ((float(r), float(v)) for r, v in values.items() if math.isfinite(float(v))),
        )
        if finite:
            path = " ".join(f"{x(r):.1f},{y(v):.1f}" for r, v in finite)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            parts.extend(_marker(marker, x(r), y(v), colour) for r, v in finite)
        parts.append(
            _marker(marker, legend_at[index] + 4, height - 10, colour)
            + f'<text x="{legend_at[index] + 12:.1f}" y="{height - 6}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _rate_order(item: tuple[str, float]) -> float:
    return float(item[0])


def calibration_svg(
    curve: Sequence[Mapping[str, float]],
    *,
    title: str,
    size: int = 240,
    words: Language | None = None,
) -> str:
    """Observed rate against mean predicted risk per bin, with the diagonal of perfect calibration.

    Both axes run from 0 to the largest value seen (risks are usually small), labelled.
    """
    words = _words(words)
    left, right, top, bottom = 44, 12, 28, 40
    if not curve:
        empty = words.gettext("%(title)s: no calibration curve recorded.")
        return f'<p class="empty">{escape(empty % {"title": title})}</p>'
    predicted = [float(point["predicted"]) for point in curve]
    observed = [float(point["observed"]) for point in curve]
    scale = max(*predicted, *observed, 1e-6) * 1.05
    inner = size - left - right

    def x(value: float) -> float:
        return left + value / scale * inner

    def y(value: float) -> float:
        return top + (1.0 - value / scale) * (size - top - bottom)

    point = words.gettext("predicted %(predicted)s observed %(observed)s")
    label = f"{title}: " + ", ".join(
        point % {"predicted": fixed_decimals(words, p, 3), "observed": fixed_decimals(words, o, 3)}
        for p, o in zip(predicted, observed, strict=True)
    )
    top_value = fixed_decimals(words, scale, 2)
    axes = words.gettext("x: predicted risk, y: observed rate")
    # the plot stays square; the canvas widens to the title and the axes' label
    width = _fitting(
        size,
        left + text_width(title, bold=True) + right,
        text_width(axes, bold=True) + 2 * right,
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart calibration" role="img" '
        f'viewBox="0 0 {width} {size}" width="{width}" height="{size}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<text x="{left}" y="16" class="axis-label">{escape(title)}</text>',
        f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(scale):.1f}" y2="{y(scale):.1f}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{left - 6}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
        f'<text x="{left - 6}" y="{y(scale) + 4:.1f}" text-anchor="end">{top_value}</text>',
        f'<text x="{x(scale):.1f}" y="{size - bottom + 16}" text-anchor="end">{top_value}</text>',
        f'<text x="{width / 2:.1f}" y="{size - 8}" text-anchor="middle" '
        f'class="axis-label">{escape(axes)}</text>',
    ]
    path = " ".join(f"{x(p):.1f},{y(o):.1f}" for p, o in zip(predicted, observed, strict=True))
    parts.append(f'<polyline points="{path}" fill="none" stroke="{SERIES_COLOURS[0]}"/>')
    parts.extend(
        _marker("circle", x(p), y(o), SERIES_COLOURS[0])
        for p, o in zip(predicted, observed, strict=True)
    )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class RateSeries:
    """One line of a rates-by-period chart: its name, a rate per period (None: none), and a
    95% interval per period drawn as a whisker titled with ``whisker`` (``%(low)s``,
    ``%(high)s``), shifted ``offset`` pixels so whiskers of one period stay apart."""

    name: str
    rates: Sequence[float | None]
    intervals: Sequence[object] = ()
    whisker: str = ""
    dashed: bool = False
    offset: float = 0.0


def _rate(figures: object, key: str) -> float | None:
    value = figures.get(key) if isinstance(figures, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def _shown(words: Language, value: float | None) -> str:
    """A rate as a chart's label writes it (one decimal), or "none"."""
    return words.gettext("none") if value is None else words.number("percent_tenth", value)


def _interval(figures: object) -> object:
    return figures.get("interval") if isinstance(figures, Mapping) else None


def _rates_by_period_svg(
    ticks: Sequence[str],
    series: Sequence[RateSeries],
    *,
    title: str,
    label: str,
    axis: str,
    css: str,
    width: int,
    height: int,
    words: Language,
) -> str:
    """Lines of rates against periods, each point labelled, intervals as whiskers."""
    left, right, top, bottom = 44, 16, 28, 72  # two legend rows under the axis label
    values = [v for line in series for v in line.rates if v is not None]
    values += [
        float(b)
        for line in series
        for i in line.intervals
        if isinstance(i, list | tuple)
        for b in i
    ]
    scale = max(max(values, default=0.0) * 1.1, 0.01)
    # the legend in two columns, the first as wide as its longest name; the chart widens to
    # its (translated) title, axis label and legend
    names = [line.name for line in series]
    column = max(190.0, 12 + max((text_width(n) for n in names[0::2]), default=0.0) + 16)
    width = _fitting(
        width,
        left + text_width(title, bold=True) + right,
        left + text_width(axis, bold=True) + right,
        left + column + 12 + max((text_width(n) for n in names[1::2]), default=0.0) + right,
    )
    step = (width - left - right) / max(len(ticks), 1)

    def x(index: int) -> float:
        return left + step * (index + 0.5)

    def y(value: float) -> float:
        return top + (1.0 - value / scale) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<text x="{left}" y="16" class="axis-label">{escape(title)}</text>',
    ]
    for tick in (0.0, scale / 2, scale):
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" '
            'stroke="#ccc"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{words.number('percent', tick)}</text>"
        )
    for index, tick_label in enumerate(ticks):
        parts.append(
            f'<text x="{x(index):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{escape(tick_label)}</text>"
        )
        for number, line in enumerate(series):
            interval = line.intervals[index] if index < len(line.intervals) else None
            if isinstance(interval, list | tuple) and len(interval) == 2:
                low, high = float(interval[0]), float(interval[1])
                at = x(index) + line.offset
                colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
                whisker = line.whisker % {"low": _shown(words, low), "high": _shown(words, high)}
                parts.append(
                    f'<line class="interval" x1="{at:.1f}" y1="{y(low):.1f}" '
                    f'x2="{at:.1f}" y2="{y(high):.1f}" stroke="{colour}">'
                    f"<title>{escape(whisker)}</title></line>"
                )
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - bottom + 32}" '
        f'text-anchor="middle" class="axis-label">{escape(axis)}</text>'
    )
    for index, line in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        marker = SERIES_MARKERS[index % len(SERIES_MARKERS)]
        points = [(i, v) for i, v in enumerate(line.rates) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x(i) + line.offset:.1f},{y(v):.1f}" for i, v in points)
            dash = ' stroke-dasharray="4 3"' if line.dashed else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
            )
        parts.extend(
            f'<g class="point"><title>{escape(line.name)}: {_shown(words, v)}</title>'
            f"{_marker(marker, x(i) + line.offset, y(v), colour)}</g>"
            for i, v in points
        )
        legend_y = height - 18 + 12 * (index // 2)
        legend_x = left + (index % 2) * column
        parts.append(
            _marker(marker, legend_x + 4, legend_y - 4, colour)
            + f'<text x="{legend_x + 12:.1f}" y="{legend_y}">{escape(line.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hit_rates_svg(
    weeks: Sequence[Mapping[str, object]],
    *,
    title: str,
    width: int = 420,
    height: int = 240,
    words: Language | None = None,
) -> str:
    """Per week: the hit rate of model picks, of random picks with its 95% interval (a
    whisker), and the estimated rate over all declarations, against the lodging week.

    Args:
        weeks: the performance monitor's weekly figures (``week``, ``model``, ``random`` with
            ``interval``, ``estimated_rate``), oldest first.
        title: what the chart shows (the threat).
        words: the language of the labels and the numbers.
    """
    words = _words(words)
    if not weeks:
        empty = words.gettext("%(title)s: no outcomes recorded.")
        return f'<p class="empty">{escape(empty % {"title": title})}</p>'
    model = [_rate(week["model"], "rate") for week in weeks]
    random_rates = [_rate(week["random"], "rate") for week in weeks]
    estimated = [_rate(week, "estimated_rate") for week in weeks]

    week_text = words.gettext(
        "week of %(week)s: model %(model)s, random %(random)s, estimated %(estimated)s"
    )
    label = f"{title}: " + "; ".join(
        week_text
        % {
            "week": week["week"],
            "model": _shown(words, m),
            "random": _shown(words, r),
            "estimated": _shown(words, e),
        }
        for week, m, r, e in zip(weeks, model, random_rates, estimated, strict=True)
    )
    series = (
        RateSeries(words.gettext("model picks"), model),
        RateSeries(
            words.gettext("random picks (%(level)s interval)") % {"level": "95%"},
            random_rates,
            intervals=[_interval(week["random"]) for week in weeks],
            whisker=words.gettext("random picks, 95%% interval %(low)s to %(high)s"),
        ),
        RateSeries(words.gettext("estimated rate, all declarations"), estimated, dashed=True),
    )
    return _rates_by_period_svg(
        [str(week["week"])[5:] for week in weeks],
        series,
        title=title,
        label=label,
        axis=words.gettext("week of lodging (month-day)"),
        css="hit-rates",
        width=width,
        height=height,
        words=words,
    )


def profile_rates_svg(
    periods: Sequence[Mapping[str, object]],
    *,
    title: str,
    period: str = "week",
    width: int = 420,
    height: int = 240,
    words: Language | None = None,
) -> str:
    """Per period: a risk profile's hit rate beside the model's picks and the random picks of
    the same period, each with its 95% interval (a whisker).

    Args:
        periods: the profile's figures per period (GET /v1/profiles/{id}/performance:
            ``start``, ``hit_rate``, ``interval``, ``model`` and ``random`` with ``rate`` and
            ``interval``), oldest first.
        title: what the chart shows (the profile).
        period: ``week`` or ``month``: how the periods are labelled.
        words: the language of the labels and the numbers.
    """
    words = _words(words)
    if not periods:
        empty = words.gettext("%(title)s: no outcomes recorded.")
        return f'<p class="empty">{escape(empty % {"title": title})}</p>'
    whisker = words.gettext("%(series)s, 95%% interval %(low)s to %(high)s")
    names = (
        words.gettext("profile"),
        words.gettext("model picks"),
        words.gettext("random picks"),
    )
    rates = (
        [_rate(p, "hit_rate") for p in periods],
        [_rate(p.get("model"), "rate") for p in periods],
        [_rate(p.get("random"), "rate") for p in periods],
    )
    intervals = (
        [p.get("interval") for p in periods],
        [_interval(p.get("model")) for p in periods],
        [_interval(p.get("random")) for p in periods],
    )
    series = [
        RateSeries(
            name,
            values,
            intervals=bounds,
            whisker=whisker.replace("%(series)s", name.replace("%", "%%")),
            offset=offset,
        )
        for name, values, bounds, offset in zip(
            names, rates, intervals, (-8.0, 0.0, 8.0), strict=True
        )
    ]

    monthly = period == "month"
    period_text = (
        words.gettext("month of %(start)s: profile %(profile)s, model %(model)s, random %(random)s")
        if monthly
        else words.gettext(
            "week of %(start)s: profile %(profile)s, model %(model)s, random %(random)s"
        )
    )
    label = f"{title}: " + "; ".join(
        period_text
        % {
            "start": p.get("start"),
            "profile": _shown(words, a),
            "model": _shown(words, b),
            "random": _shown(words, c),
        }
        for p, a, b, c in zip(periods, *rates, strict=True)
    )
    return _rates_by_period_svg(
        [str(p.get("start"))[:7] if monthly else str(p.get("start"))[5:] for p in periods],
        series,
        title=title,
        label=label,
        axis=words.gettext("month of lodging (year-month)")
        if monthly
        else words.gettext("week of lodging (month-day)"),
        css="profile-rates",
        width=width,
        height=height,
        words=words,
    )
