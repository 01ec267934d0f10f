"""Create and edit a risk profile (risk managers): one form, criteria written as YAML.

The form becomes the same document POST /v1/profiles and PUT /v1/profiles/{id} take, sent
as the signed-in person; a refused document comes back with the API's field paths
(``criteria.all.of[1].range.field: ...``) above the form, which keeps what was typed. An
edit names the revision it started from, so a profile changed meanwhile is refused (409),
not overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import yaml
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.profiles import PROFILE_LANES
from serving.base import error_path
from serving.web.page import Page, ServiceCall, SignedIn, page_router
from serving.web.profiles import api_path, not_found, page_path, read_profile, writer_only

router = page_router()

TEXT_FIELDS = ("title", "threat", "rationale", "instructions", "owner")
MINUTE = "%Y-%m-%dT%H:%M"  # what an <input type="datetime-local"> holds


def _minute(moment: str | None) -> str:
    """An ISO time as a datetime-local field's value (UTC, to the minute); "" for none."""
    if not moment:
        return ""
    return datetime.fromisoformat(moment).astimezone(UTC).strftime(MINUTE)


def blank_form(now: datetime) -> dict[str, str]:
    """The fields of a new profile: red lane, valid from now."""
    return {"lane": "red", "valid_from": now.astimezone(UTC).strftime(MINUTE)}


def form_from_profile(profile: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields holding a stored profile (criteria as YAML)."""
    action = profile.get("action") or {}
    percent = float(action.get("percent", 100.0))
    return {
        "id": profile["id"],
        **{name: str(profile.get(name) or "") for name in TEXT_FIELDS},
        "criteria": yaml.safe_dump(profile["criteria"], sort_keys=False, allow_unicode=True),
        "lane": str(action.get("lane", "red")),
        "percent": "" if percent >= 100 else f"{percent:g}",
        "offices": ", ".join(profile.get("offices") or []),
        "valid_from": _minute(profile.get("valid_from")),
        "valid_to": _minute(profile.get("valid_to")),
        "review_date": str(profile.get("review_date") or ""),
    }


def document_from_form(
    fields: Mapping[str, str], gettext: Callable[[str], str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The profile document the API takes, or the problems found before asking it (YAML
    that does not parse, a share that is not a number); the API checks everything else."""
    problems: list[str] = []
    try:
        criteria = yaml.safe_load(fields.get("criteria", "")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = "?" if mark is None else str(mark.line + 1)
        problems.append(gettext("Criteria: not valid YAML (line %(line)s).") % {"line": line})
        criteria = None
    action: dict[str, Any] = {"lane": fields.get("lane", "")}
    percent = fields.get("percent", "").strip()
    if percent:
        try:
            action["percent"] = float(percent.replace(",", "."))
        except ValueError:
            problems.append(gettext("Share of matches: give a number above 0, at most 100."))
    document: dict[str, Any] = {
        "id": fields.get("id", "").strip(),
        **{name: fields.get(name, "").strip() for name in TEXT_FIELDS},
        "criteria": criteria,
        "action": action,
        "offices": [o for o in re.split(r"[\s,;]+", fields.get("offices", "")) if o],
        "valid_from": fields.get("valid_from", "").strip() or None,
        "valid_to": fields.get("valid_to", "").strip() or None,
        "review_date": fields.get("review_date", "").strip() or None,
    }
    return (None if problems else document), problems


def api_problems(answer: httpx.Response, gettext: Callable[[str], str]) -> list[str]:
    """A refused write's problems: each field path with the API's message (its own words
    stay in English: they come from the validation rules), or why it conflicts."""
    try:
        detail = answer.json().get("detail")
    except ValueError:
        detail = None
    if answer.status_code == 409:
        return [
            gettext("Not saved: %(reason)s") % {"reason": detail if isinstance(detail, str) else ""}
        ]
    if not isinstance(detail, list):
        return [gettext("Not saved (%(status)s).") % {"status": answer.status_code}]
    problems = []
    for item in detail:
        location = list(item.get("loc", []))
        path = error_path(location[1:] if location[:1] == ["body"] else location)
        problems.append(f"{path or gettext('profile')}: {item.get('msg', '')}")
    return problems


def _form_page(
    page: Page,
    form: Mapping[str, str],
    *,
    editing: str | None,
    errors: list[str],
    status_code: int = 200,
) -> Response:
    return page.render(
        "profile_form.html",
        {
            "form": form,
            "editing": editing,
            "errors": errors,
            "lanes": PROFILE_LANES,
            "action": page_path(editing, "edit") if editing else page_path("new"),
        },
        status_code=status_code,
    )


Send = Callable[[ServiceCall, dict[str, Any], Mapping[str, str]], Awaitable[httpx.Response]]


async def _submit(page: Page, editing: str | None, send: Send) -> Response:
    """Check the posted form, send its document with ``send``, and answer: the profile's
    page when stored, else the form again with the problems (what was typed kept)."""
    fields = await page.form()
    if editing is not None:
        fields["id"] = editing  # the id is not edited: a new id is a new profile
    gettext = page.words.gettext
    document, problems = document_from_form(fields, gettext)
    status = 422
    if document is not None:
        answer = await send(page.call, document, fields)
        if answer.status_code in (200, 201):
            return RedirectResponse(f"{page_path(document['id'])}?saved=1", status_code=303)
        if answer.status_code == 404:
            return not_found(page)
        if answer.status_code not in (409, 422):
            return page.refused(answer)
        problems, status = api_problems(answer, gettext), answer.status_code
    return _form_page(page, fields, editing=editing, errors=problems, status_code=status)


@router.get("/profiles/new", response_class=HTMLResponse)
async def new_profile_page(page: SignedIn) -> Response:
    """The empty form of a new profile."""
    writer_only(page)
    return _form_page(page, blank_form(datetime.now(UTC)), editing=None, errors=[])


@router.post("/profiles/new", response_class=HTMLResponse)
async def create_profile(page: SignedIn) -> Response:
    """Create the profile through POST /v1/profiles; show the form again when refused."""

    async def send(
        call: ServiceCall, document: dict[str, Any], _: Mapping[str, str]
    ) -> httpx.Response:
        return await call.post("/v1/profiles", document)

    return await _submit(page, None, send)


@router.get("/profiles/{profile_id}/edit", response_class=HTMLResponse)
async def edit_profile_page(page: SignedIn, profile_id: str) -> Response:
    """The form holding the profile's newest revision."""
    writer_only(page)
    detail = await read_profile(page, profile_id)
    if isinstance(detail, Response):
        return detail
    form = {**form_from_profile(detail["profile"]), "revision": str(detail["revision"])}
    return _form_page(page, form, editing=detail["profile"]["id"], errors=[])


@router.post("/profiles/{profile_id}/edit", response_class=HTMLResponse)
async def save_profile(page: SignedIn, profile_id: str) -> Response:
    """A new revision through PUT /v1/profiles/{id}, following the revision the form showed."""

    async def send(
        call: ServiceCall, document: dict[str, Any], fields: Mapping[str, str]
    ) -> httpx.Response:
        revision = fields.get("revision", "")
        params = {"revision": revision} if revision.isdigit() else None
        return await call.put(api_path(profile_id), document, params)

    return await _submit(page, profile_id, send)
