"""The audit page (risk managers): search the consultation log by time, key, person and
declaration."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, Response

from serving.web.page import SignedIn, page_router

router = page_router()


AUDIT_FILTERS = ("since", "until", "key_id", "person", "declaration_id")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    page: SignedIn,
    since: str | None = None,
    until: str | None = None,
    key_id: str | None = None,
    person: str | None = None,
    declaration_id: str | None = None,
) -> Response:
    """Risk managers: search the consultation log by time, key, person and declaration."""
    form = {
        "since": since,
        "until": until,
        "key_id": key_id,
        "person": person,
        "declaration_id": declaration_id,
    }
    params = {name: value.strip() for name, value in form.items() if value and value.strip()}
    answer = await page.call.get("/v1/audit", {**params, "limit": 200})
    if answer.status_code == 422:
        return page.render(
            "audit.html",
            {
                "form": form,
                "records": [],
                "error": page.words.gettext(
                    "Check the filters: times as YYYY-MM-DDTHH:MM, a key id of 12 "
                    "hexadecimal digits."
                ),
            },
            status_code=422,
        )
    if answer.status_code != 200:
        return page.refused(answer)
    return page.render(
        "audit.html", {"form": form, "records": answer.json()["records"], "error": None}
    )
