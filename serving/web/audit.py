"""The audit page (risk managers): search the consultation log by time, key, person and
declaration."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from serving.web.page import (
    ServiceCall,
    Web,
    page_router,
    page_words,
    refused,
    render_page,
    signed_in,
    to_sign_in,
)

router = page_router()


AUDIT_FILTERS = ("since", "until", "key_id", "person", "declaration_id")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    web: Web,
    since: str | None = None,
    until: str | None = None,
    key_id: str | None = None,
    person: str | None = None,
    declaration_id: str | None = None,
) -> Response:
    """Risk managers: search the consultation log by time, key, person and declaration."""
    session = signed_in(request, web)
    if session is None:
        return to_sign_in(web)
    form = {
        "since": since,
        "until": until,
        "key_id": key_id,
        "person": person,
        "declaration_id": declaration_id,
    }
    params = {name: value.strip() for name, value in form.items() if value and value.strip()}
    answer = await ServiceCall(request, session).get("/v1/audit", {**params, "limit": 200})
    if answer.status_code == 422:
        return render_page(
            web,
            request,
            "audit.html",
            {
                "form": form,
                "records": [],
                "error": page_words(request, session).gettext(
                    "Check the filters: times as YYYY-MM-DDTHH:MM, a key id of 12 "
                    "hexadecimal digits."
                ),
            },
            session=session,
            status_code=422,
        )
    if answer.status_code != 200:
        return refused(web, request, session, answer)
    return render_page(
        web,
        request,
        "audit.html",
        {"form": form, "records": answer.json()["records"], "error": None},
        session=session,
    )
