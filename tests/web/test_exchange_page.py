"""The exchange page in a real browser (issue 15, item 6): a risk manager opens it from the
navigation, sees each message's handling code and what it changed, follows a message to its
watchlist entries, and reads it in Serbian and Albanian with no English left but data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from serving.exchange.outbox import build_reports, record_sent
from serving.exchange.service import import_message
from serving.exchange.signing import sign
from serving.store.database import Store
from tests.serving.exchange.partners import agency, alert, declaration, knowing, record_seizure
from tests.web.conftest import WebServer
from tests.web.test_pages_browser import SAME_WORD, VISIBLE_TEXT, prose_words, sign_in

pytestmark = pytest.mark.slow
A = agency("RS-CUSTOMS", "RS")
OURS = knowing(agency("shiprisk-development", "ZZ"), A)  # the server's default organisation
NOTE = "not before a court without asking"
EXCHANGE_SAME_WORD = {"sr_Latn": {"partner"}}  # Serbian writes "partner" as English does


@pytest.fixture(scope="module")
def exchanged(web_server: WebServer) -> WebServer:
    """Two alerts received from A (H0, and H3 forbidding dissemination) and a seizure report
    sent to A, in the running server's store."""
    store = Store.open(web_server.database_url)
    try:
        for message in (
            alert(A, OURS.organisation, message_id="A-1", retain_days=3650),
            alert(
                A,
                OURS.organisation,
                message_id="A-2",
                retain_days=3650,
                handling={"code": "H3", "note": NOTE, "no_dissemination": True},
                entities=[{"local_id": "v1", "type": "vehicle", "identifier": "SECRETPLATE"}],
            ),
        ):
            token = sign(message, A.signing_key, A.organisation)
            import_message(store, token, OURS, recorded_by="test")
        record_seizure(store, declaration("EXCHANGE-SEIZED-1"))
        with store.transaction() as session:
            reports = build_reports(session, OURS, A.organisation)
            record_sent(session, reports, recorded_by="test", recorded_at=datetime.now(UTC))
    finally:
        store.close()
    return web_server


def test_a_risk_manager_reads_the_exchange_in_three_languages(
    exchanged: WebServer, new_page: Any, artifacts: Path
) -> None:
    page = new_page()
    sign_in(page, exchanged, "rui")
    page.get_by_role("link", name="Partner exchange").click()
    assert page.url == f"{exchanged.base_url}/web/exchange"
    rows = page.locator("table.exchange tbody tr")
    assert rows.count() == 3
    assert rows.first.locator("td:nth-child(4)").inner_text() == "seizure report"
    handling = page.locator("table.exchange td.handling").all_inner_texts()
    assert any(NOTE in text and "H3" in text for text in handling)
    assert "SECRETPLATE" not in page.content()
    page.get_by_role("link", name="2 watchlist entries").click()
    assert page.url.split("#")[1].startswith("entries-")
    entries = page.locator(f"#{page.url.split('#')[1]} tbody tr").all_inner_texts()
    assert len(entries) == 2 and "BG123AB" in entries[0]
    page.screenshot(path=str(artifacts / "exchange.png"), full_page=True)

    english = prose_words(page.evaluate(VISIBLE_TEXT))
    assert {"received", "sent", "handling", "proceedings", "expired"} <= english  # the test sees
    data = prose_words(NOTE) | {"rui", "manager", "shiprisk"}  # the note, the person, the brand
    selector, button = "Language", "Change language"
    for locale, heading in (
        ("sr_Latn", "Poruke razmenjene sa partnerskim agencijama"),
        ("sq", "Mesazhet e shkëmbyera me agjencitë partnere"),
    ):
        page.get_by_label(selector).select_option(locale)
        page.get_by_role("button", name=button).click()
        assert page.get_by_role("heading", name=heading).count() == 1, page.content()[:3000]
        same = SAME_WORD[locale] | EXCHANGE_SAME_WORD.get(locale, set())
        left = (english & prose_words(page.evaluate(VISIBLE_TEXT))) - data - same
        assert not left, f"{locale}: English left on the exchange page: {sorted(left)}"
        page.screenshot(path=str(artifacts / f"exchange_{locale}.png"), full_page=True)
        selector = "Jezik" if locale == "sr_Latn" else "Gjuha"
        button = "Promeni jezik" if locale == "sr_Latn" else "Ndrysho gjuhën"
