"""The exchange page (risk managers): messages received from and sent to partner agencies,
their handling codes, and what each changed (watchlist entries made, declarations whose score
they reached, outcomes reported), through GET /v1/exchange/messages.

Handling codes are kept on the screen as in the API: an H2 or H3 message's entries are listed
without their values (what came in under them is not passed on, and a screen is easily passed
on), and an H3 message's restrictions are shown beside its code, so whoever reads the page
knows what they may do with it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.responses import HTMLResponse, Response

from features.i18n import mark
from serving.web.page import SignedIn, page_router

router = page_router()

PAGE_SIZE = 50
DIRECTIONS = ("in", "out")
# Words of the API's codes, translated where shown.
WORDS = {
    "in": mark("received"),
    "out": mark("sent"),
    "alert": mark("alert"),
    "hit_report": mark("hit report"),
    "seizure_report": mark("seizure report"),
    "customs": mark("customs"),
    "law_enforcement": mark("law enforcement"),
    "border_operation": mark("border operation"),
    "in_force": mark("in force"),
    "expired": mark("expired"),
    "withdrawn": mark("withdrawn"),
    "seizure": mark("seizure"),
    "hit": mark("hit"),
    "vehicle_id": mark("vehicle"),
    "importer_id": mark("importer"),
    "exporter_id": mark("exporter"),
    "carrier_id": mark("carrier"),
    "declarant_id": mark("declarant"),
    "itinerary": mark("route"),
    "hs_code": mark("HS code"),
}
HANDLING = {
    "H0": mark("use only to prevent and combat crime"),
    "H1": mark("not in judicial proceedings without the provider's permission"),
    "H2": mark("no dissemination without the provider's permission"),
    "H3": mark("other restrictions, as the provider wrote them"),
}


def entry_counts(message: dict[str, Any]) -> dict[str, int]:
    """How many of a received message's entries are in force, expired, withdrawn."""
    states = Counter(entry["state"] for entry in message["watchlist_entries"])
    return {state: states.get(state, 0) for state in ("in_force", "expired", "withdrawn")}


@router.get("/exchange", response_class=HTMLResponse)
async def exchange_page(
    page: SignedIn,
    direction: str | None = None,
    partner: str | None = None,
    cursor: str | None = None,
) -> Response:
    """Risk managers: messages received and sent, their handling codes and what each changed."""
    form = {
        "direction": direction if direction in DIRECTIONS else None,
        "partner": (partner or "").strip() or None,
    }
    params: dict[str, Any] = {name: value for name, value in form.items() if value}
    if cursor and cursor.isdigit():
        params["cursor"] = cursor
    answer = await page.call.get("/v1/exchange/messages", {**params, "limit": PAGE_SIZE})
    if answer.status_code != 200:
        return page.refused(answer)
    listed = answer.json()
    messages = listed["messages"]
    return page.render(
        "exchange.html",
        {
            "form": form,
            "messages": messages,
            "counts": {message["id"]: entry_counts(message) for message in messages},
            "next_cursor": listed["next_cursor"],
            "words": WORDS,
            "handling": HANDLING,
        },
    )
