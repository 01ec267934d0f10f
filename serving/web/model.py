"""The model page (risk managers): champion and challenger, measures at inspection rates, drift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import HTMLResponse, Response

from features.i18n import language, mark
from serving.web import charts
from serving.web.page import SignedIn, page_router

IMPORTANCE_ROWS = 10

router = page_router()


# The measures at inspection rates that carry bootstrap intervals in the metrics (training).
INTERVAL_MEASURES = (
    ("precision", "precision_at"),
    ("recall", "recall_at"),
    ("revenue share", "revenue_at"),
)


def rate_intervals(measures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per inspection rate: each measure's value and its 95% interval when the
    metrics carry one (``precision_at_interval`` ...); empty for metrics without intervals."""
    rows: dict[str, dict[str, Any]] = {}
    for label, key in INTERVAL_MEASURES:
        values = measures.get(key) or {}
        bounds = measures.get(f"{key}_interval") or {}
        for rate, value in values.items():
            interval = bounds.get(rate)
            if interval is None:
                continue
            row = rows.setdefault(rate, {"rate": float(rate)})
            row[label] = (value, interval)
    return [rows[rate] for rate in sorted(rows, key=float)]


@router.get("/model", response_class=HTMLResponse)
async def model_page(page: SignedIn) -> Response:
    """Risk managers: the champion and challenger, measures at inspection rates, drift."""
    answer = await page.call.get("/v1/model")
    if answer.status_code != 200:
        return page.refused(answer)
    info = answer.json()
    words = page.words
    gettext = words.gettext
    threats_metrics: dict[str, Any] = dict(info.get("metrics", {}).get("threats", {}))
    rate_charts, calibration_charts = {}, {}
    for threat, measures in threats_metrics.items():
        series = {
            gettext(label): measures[key]
            for key, label in (
                ("precision_at", mark("precision")),
                ("recall_at", mark("recall")),
                ("revenue_at", mark("revenue share")),
            )
            if measures.get(key)
        }
        name = language(words.locale).pgettext("threat", threat)
        rate_charts[threat] = charts.rates_chart_svg(series, title=name, words=words)
        calibration_charts[threat] = charts.calibration_svg(
            measures.get("calibration") or [],
            title=gettext("%(threat)s calibration") % {"threat": name},
            words=words,
        )
    performance = info.get("performance") or {}
    hit_rate_charts = {
        threat: charts.hit_rates_svg(
            figures.get("weeks") or [],
            title=language(words.locale).pgettext("threat", threat),
            words=words,
        )
        for threat, figures in dict(performance.get("threats") or {}).items()
    }
    web, request = page.web, page.request
    current = request.app.state.service.model_holder.current
    metadata = dict(current.bundle.metadata) if current is not None else {}
    name, version = info["model"]["name"], info["model"]["version"]
    return page.render(
        "model.html",
        {
            "info": info,
            "threats_metrics": threats_metrics,
            "rate_charts": rate_charts,
            "intervals": {
                threat: rate_intervals(measures) for threat, measures in threats_metrics.items()
            },
            "performance": performance,
            "hit_rate_charts": hit_rate_charts,
            "calibration_charts": calibration_charts,
            "challenger": web.challenger_version(request),
            # Only slices large enough to be reported (training leaves small ones out).
            "slices": {
                threat: shown
                for threat, dimensions in (metadata.get("slices") or {}).items()
                if (shown := {d: groups for d, groups in dimensions.items() if groups})
            },
            "importance": {
                threat: list(values.items())[:IMPORTANCE_ROWS]
                for threat, values in dict(info.get("importance", {})).items()
            },
            "mlflow_link": (
                f"{web.mlflow_ui_url.rstrip('/')}/#/models/{name}/versions/{version}"
                if web.mlflow_ui_url
                else None
            ),
        },
    )
