"""The exchange page in process: what risk managers see of each message, handling codes kept."""

from __future__ import annotations

from pathlib import Path

from serving.access.keys import Role
from serving.exchange.signing import sign
from tests.serving.access_keys import newest_record, page_session
from tests.serving.exchange.partners import alert, declaration, record_seizure
from tests.serving.exchange.test_listing import H3
from tests.serving.exchange.test_routes import OURS, A, exchange_client


def test_the_page_lists_messages_with_their_codes_and_hides_restricted_values(
    tmp_path: Path,
) -> None:
    with exchange_client(tmp_path, f"sqlite:///{tmp_path / 'store.db'}") as client:
        for message in (
            alert(A, OURS, message_id="A-1"),
            alert(
                A,
                OURS,
                message_id="A-2",
                handling=H3,
                entities=[{"local_id": "v1", "type": "vehicle", "identifier": "SECRET-PLATE"}],
            ),
        ):
            token = sign(message, A.signing_key, A.organisation)
            assert client.post("/v1/exchange/inbox", json={"message": token}).status_code == 200
        record_seizure(client.app.state.service.store, declaration("D-SEIZED"))  # type: ignore[attr-defined]
        assert client.get("/v1/exchange/outbox", params={"to": "RS-CUSTOMS"}).status_code == 200

        cookie, _ = page_session(client, client.key_records[Role.RISK_MANAGER])
        page = client.get("/web/exchange", headers={"Cookie": cookie})
        assert page.status_code == 200, page.text
        html = page.text
        assert html.count('<tr id="message-') == 3
        assert "BG123AB" in html  # an H0 entry's value
        assert "SECRET-PLATE" not in html and "not shown (H3)" in html
        assert H3["note"] in html and "Not to be passed on to other partners." in html
        assert 'href="#entries-' in html and 'id="entry-' in html
        assert '/web/declarations/D-SEIZED"' in html and "seizure report" in html
        assert 'href="/web/exchange">Partner exchange</a>' in html  # the navigation link
        record = newest_record(client)
        assert (record.route, record.person) == ("GET /v1/exchange/messages", "test risk_manager")

        sent = client.get("/web/exchange", params={"direction": "out"}, headers={"Cookie": cookie})
        assert sent.text.count('<tr id="message-') == 1

        officer, _ = page_session(client, client.key_records[Role.OFFICER])
        refused = client.get("/web/exchange", headers={"Cookie": officer})
        assert refused.status_code == 403 and "BG123AB" not in refused.text
        assert 'href="/web/exchange"' not in refused.text
