"""The risk profile pages: the list (officers read it, risk managers change from it), one
profile with its criteria, revisions and performance, and its expiry.

Every figure and every change goes through the API (/v1/profiles ...) as the signed-in
person, so a page's change leaves the same revision and the same consultation record as the
same call made with a key. The create and edit forms are `serving.web.profiles_form`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.i18n import mark
from serving.access.policy import PAGES_PREFIX
from serving.web import charts
from serving.web.page import Page, PageAnswer, Problem, SignedIn, page_router

router = page_router()

PERIODS = ("week", "month")
WRITER = "risk_manager"  # the role that may create, edit and expire profiles (the API's rule)


def api_path(profile_id: str, *rest: str) -> str:
    """The API path of a profile (the id quoted: it came from the address bar)."""
    return "/".join(("/v1/profiles", quote(profile_id, safe=""), *rest))


def page_path(profile_id: str, *rest: str) -> str:
    """The page path of a profile."""
    return "/".join((f"{PAGES_PREFIX}/profiles", quote(profile_id, safe=""), *rest))


def profile_state(profile: Mapping[str, Any], now: datetime) -> str:
    """``in_force``, ``expired`` or ``scheduled`` (its window starts later), by the clock."""
    valid_to = profile.get("valid_to")
    if valid_to is not None and datetime.fromisoformat(valid_to) <= now:
        return "expired"
    if datetime.fromisoformat(profile["valid_from"]) > now:
        return "scheduled"
    return "in_force"


NO_PROFILE = Problem(mark("Not found"), mark("There is no risk profile with this id."), 404)


def not_found(page: Page) -> Response:
    """404: no profile with this id (the same page whatever the id was)."""
    return page.problem(NO_PROFILE)


def writer_only(page: Page) -> None:
    """Go on only for a role that may change profiles: else `PageAnswer` 403, before any
    form is shown."""
    if page.session.role != WRITER:
        raise PageAnswer(page.refused(httpx.Response(403)))


async def read_profile(page: Page, profile_id: str) -> dict[str, Any] | Response:
    """GET /v1/profiles/{id}: the profile with its revisions, or the page for a refusal
    (404 for an unknown id, or one the route's pattern refuses)."""
    answer = await page.call.get(api_path(profile_id))
    if answer.status_code in (404, 422):
        return not_found(page)
    if answer.status_code != 200:
        return page.refused(answer)
    detail: dict[str, Any] = answer.json()
    return detail


@router.get("/profiles", response_class=HTMLResponse)
async def profiles_page(page: SignedIn) -> Response:
    """Every risk profile: id, title, threat, action, offices, validity, review date, state."""
    answer = await page.call.get("/v1/profiles", {"limit": 1000})
    if answer.status_code != 200:
        return page.refused(answer)
    now = datetime.now(UTC)
    listed = [
        {**row, "state": profile_state(row["profile"], now)} for row in answer.json()["profiles"]
    ]
    return page.render(
        "profiles.html", {"profiles": listed, "may_write": page.session.role == WRITER}
    )


@router.get("/profiles/{profile_id}", response_class=HTMLResponse)
async def profile_page(
    page: SignedIn,
    profile_id: str,
    period: str = "week",
    since: str = "",
    until: str = "",
    saved: int | None = None,
    expired: int | None = None,
) -> Response:
    """One profile: its content, criteria as YAML, revisions, and its performance per period."""
    gettext = page.words.gettext
    notice = (
        gettext("The profile was expired.")
        if expired
        else gettext("The profile was saved.")
        if saved
        else None
    )
    window = {"period": period, "since": since.strip(), "until": until.strip()}
    return await profile_response(page, profile_id, window=window, notice=notice, errors=[])


async def profile_response(
    page: Page,
    profile_id: str,
    *,
    window: Mapping[str, str],
    notice: str | None,
    errors: list[str],
    status_code: int = 200,
) -> Response:
    """The profile page, with a notice or the problems of a change that was refused."""
    call = page.call
    detail = await read_profile(page, profile_id)
    if isinstance(detail, Response):
        return detail
    words = page.words
    chosen = {key: value for key, value in window.items() if value}
    if chosen.get("period") not in PERIODS:
        chosen["period"] = "week"
    measured = await call.get(api_path(profile_id, "performance"), chosen)
    if measured.status_code == 422:  # a day the API did not accept: the default window
        errors = [*errors, words.gettext("Give the days as YYYY-MM-DD, the first before the last.")]
        chosen = {"period": chosen["period"]}
        measured = await call.get(api_path(profile_id, "performance"), chosen)
    if measured.status_code != 200:
        return page.refused(measured)
    performance = measured.json()
    period = chosen["period"]
    profile = detail["profile"]
    return page.render(
        "profile.html",
        {
            "detail": detail,
            "profile": profile,
            "state": profile_state(profile, datetime.now(UTC)),
            "criteria_yaml": yaml.safe_dump(
                profile["criteria"], sort_keys=False, allow_unicode=True
            ),
            "performance": performance,
            "period": period,
            "window": {**window, "period": period},
            "chart": charts.profile_rates_svg(
                performance["periods"], title=profile["id"], period=period, words=words
            ),
            "may_write": page.session.role == WRITER,
            "notice": notice,
            "errors": errors,
            "page_path": page_path(profile["id"]),
        },
        status_code=status_code,
    )


@router.post("/profiles/{profile_id}/expire", response_class=HTMLResponse)
async def expire_profile(page: SignedIn, profile_id: str) -> Response:
    """End a profile now through POST /v1/profiles/{id}/expire (a new revision)."""
    await page.form()
    answer = await page.call.post(api_path(profile_id, "expire"), None)
    if answer.status_code == 200:
        return RedirectResponse(f"{page_path(profile_id)}?expired=1", status_code=303)
    if answer.status_code == 404:
        return not_found(page)
    if answer.status_code != 409:
        return page.refused(answer)
    gettext = page.words.gettext
    return await profile_response(
        page,
        profile_id,
        window={"period": "week"},
        notice=None,
        errors=[
            gettext(
                "The profile was not expired: it has already expired, or it was changed meanwhile."
            )
        ],
        status_code=409,
    )
