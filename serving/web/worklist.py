"""The worklist page: pick an office, day and capacity; see the ranked declarations to inspect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import HTMLResponse, Response

from serving.base import ReasonOut, reasons_in_language
from serving.store import scores
from serving.web.page import Page, SignedIn, page_router

router = page_router()


@router.get("/worklist", response_class=HTMLResponse)
async def worklist_page(
    page: SignedIn,
    office_id: str | None = None,
    date: str | None = None,
    capacity: str | None = None,
) -> Response:
    """Pick an office, day and capacity; see the ranked declarations to inspect."""
    chosen = {
        "office_id": (office_id or "").strip(),
        "date": date or datetime.now(UTC).date().isoformat(),
        "capacity": capacity or "10",
    }
    context: dict[str, Any] = {"form": chosen, "worklist": None, "top_reasons": {}}
    if chosen["office_id"]:
        page.justified()
        answer = await page.call.get("/v1/worklist", chosen)
        if answer.status_code == 422:
            context["error"] = page.words.gettext(
                "Check the office, the date (YYYY-MM-DD) and the capacity (0 or more)."
            )
            return page.render("worklist.html", context, status_code=422)
        if answer.status_code != 200:
            return page.refused(answer)
        listed = answer.json()
        context["worklist"] = listed
        context["top_reasons"] = _top_reasons(page, [p["declaration_id"] for p in listed["picks"]])
    return page.render("worklist.html", context)


def _top_reasons(page: Page, declaration_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The first stored reason of each declaration the worklist call just returned, its text
    in the page's locale.

    Read from the store directly: the worklist call was checked and its record names these
    declarations; asking the API once per row would only repeat that record.
    """
    store = page.request.app.state.service.store
    found: dict[str, dict[str, Any]] = {}
    if store is None:
        return found
    with store.transaction() as session:
        latest = scores.latest_scores(session, declaration_ids)
        for declaration_id, row in latest.items():
            if row.reasons:
                first = ReasonOut(**row.reasons[0])
                found[declaration_id] = reasons_in_language([first], row.declaration, page.locale)[
                    0
                ].model_dump()
    return found
