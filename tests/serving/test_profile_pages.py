"""The risk profile pages in process (the browser tests drive the same pages in Chromium):
the forms become the API's revisions, refusals come back with field paths, officers read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from serving.access.keys import Role
from serving.app import create_app
from serving.settings import ServiceSettings
from serving.store.tables import AuditRecordRow, RiskProfileRevision
from tests.serving.access_keys import KeyedClient, page_session
from tests.serving.conftest import TrainedModel

FORM = {
    "id": "PAGE-1",
    "title": "Filament by post",
    "threat": "weapons",
    "lane": "yellow",
    "percent": "30",
    "criteria": "op: all\nof:\n  - {op: hs_prefix, prefixes: ['3916']}\n  - {op: keywords, words: [filament]}\n",
    "rationale": "report 2024/3",
    "instructions": "weigh every spool",
    "owner": "risk unit",
    "offices": "RS-POST-1, MK-POST-1",
    "valid_from": "2024-03-01T00:00",
    "valid_to": "",
    "review_date": "2024-06-01",
}


@pytest.fixture
def pages(store: TrainedModel, tmp_path: Any) -> Iterator[tuple[KeyedClient, dict[Role, Any]]]:
    settings = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'shiprisk.db'}",
    )
    with KeyedClient(create_app(settings)) as client:
        sessions = {
            role: page_session(client, client.key_records[role])
            for role in (Role.RISK_MANAGER, Role.OFFICER)
        }
        yield client, sessions


def send(client: KeyedClient, who: Any, method: str, path: str, **form: str) -> Any:
    cookie, session = who
    data = {"csrf": session.csrf, **form} if method == "POST" else None
    return client.request(
        method, path, data=data, headers={"Cookie": cookie}, follow_redirects=False
    )


def revisions(client: KeyedClient) -> list[tuple[int, str, dict[str, Any]]]:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        rows = session.scalars(select(RiskProfileRevision).order_by(RiskProfileRevision.id))
        return [(r.revision, r.change, r.content) for r in rows]


def test_a_risk_manager_creates_edits_and_expires_a_profile(
    pages: tuple[KeyedClient, dict[Role, Any]],
) -> None:
    client, sessions = pages
    manager = sessions[Role.RISK_MANAGER]
    assert send(client, manager, "GET", "/web/profiles/new").status_code == 200

    wrong = send(
        client,
        manager,
        "POST",
        "/web/profiles/new",
        **{**FORM, "criteria": "op: range\nfield: colour\n"},
    )
    assert wrong.status_code == 422
    assert "criteria.range.field: Input should be" in wrong.text
    assert "Filament by post" in wrong.text  # what was typed is kept
    not_yaml = send(client, manager, "POST", "/web/profiles/new", **{**FORM, "criteria": "op: [x"})
    assert not_yaml.status_code == 422 and "Criteria: not valid YAML" in not_yaml.text
    assert revisions(client) == []

    made = send(client, manager, "POST", "/web/profiles/new", **FORM)
    assert (made.status_code, made.headers["location"]) == (303, "/web/profiles/PAGE-1?saved=1")
    ((number, change, content),) = revisions(client)
    assert (number, change) == (1, "created")
    assert content["action"] == {"lane": "yellow", "percent": 30.0}
    assert content["offices"] == ["RS-POST-1", "MK-POST-1"]
    assert content["criteria"]["of"][1] == {"op": "keywords", "words": ["filament"], "match": "any"}

    shown = send(client, manager, "GET", "/web/profiles/PAGE-1?saved=1")
    assert shown.status_code == 200
    assert "The profile was saved." in shown.text and "yellow lane, 30% of matches" in shown.text
    assert "prefixes:" in shown.text and 'class="chart profile-rates"' in shown.text
    form = send(client, manager, "GET", "/web/profiles/PAGE-1/edit")
    assert 'name="revision" value="1"' in form.text and "weigh every spool" in form.text

    edited = send(
        client,
        manager,
        "POST",
        "/web/profiles/PAGE-1/edit",
        **{**FORM, "title": "Filament and toy parts by post", "revision": "1"},
    )
    assert edited.status_code == 303, edited.text
    stale = send(client, manager, "POST", "/web/profiles/PAGE-1/edit", **{**FORM, "revision": "1"})
    assert stale.status_code == 409 and "revision 2 is newer" in stale.text

    expired = send(client, manager, "POST", "/web/profiles/PAGE-1/expire")
    assert expired.headers["location"] == "/web/profiles/PAGE-1?expired=1"
    again = send(client, manager, "POST", "/web/profiles/PAGE-1/expire")
    assert again.status_code == 409 and "already expired" in again.text
    assert [(n, c) for n, c, _ in revisions(client)] == [
        (1, "created"),
        (2, "revised"),
        (3, "expired"),
    ]
    listed = send(client, manager, "GET", "/web/profiles").text
    assert re.search(r'<tr class="expired">\s*<td><a href="/web/profiles/PAGE-1">', listed)

    # every change is in the consultation log under the API's routes, by the page's session
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        routes = [
            (r.route, r.status)
            for r in session.scalars(select(AuditRecordRow).order_by(AuditRecordRow.sequence))
            if "profiles" in r.route and r.route.startswith(("POST /v1", "PUT /v1"))
        ]
    assert routes == [
        ("POST /v1/profiles", 422),
        ("POST /v1/profiles", 201),
        ("PUT /v1/profiles/{profile_id}", 200),
        ("PUT /v1/profiles/{profile_id}", 409),
        ("POST /v1/profiles/{profile_id}/expire", 200),
        ("POST /v1/profiles/{profile_id}/expire", 409),
    ]


def test_officers_read_the_list_and_change_nothing(
    pages: tuple[KeyedClient, dict[Role, Any]],
) -> None:
    client, sessions = pages
    manager, officer = sessions[Role.RISK_MANAGER], sessions[Role.OFFICER]
    assert send(client, manager, "POST", "/web/profiles/new", **FORM).status_code == 303
    listed = send(client, officer, "GET", "/web/profiles")
    assert listed.status_code == 200 and "PAGE-1" in listed.text
    assert "/web/profiles/new" not in listed.text
    shown = send(client, officer, "GET", "/web/profiles/PAGE-1")
    assert shown.status_code == 200 and "Expire now" not in shown.text
    assert send(client, officer, "GET", "/web/profiles/new").status_code == 403
    assert send(client, officer, "GET", "/web/profiles/PAGE-1/edit").status_code == 403
    assert send(client, officer, "POST", "/web/profiles/PAGE-1/expire").status_code == 403
    assert send(client, officer, "POST", "/web/profiles/new", **FORM).status_code == 403
    assert [c for _, c, _ in revisions(client)] == ["created"]
    assert send(client, manager, "GET", "/web/profiles/NOPE").status_code == 404
    forged = client.post(
        "/web/profiles/PAGE-1/expire",
        data={"csrf": "forged"},
        headers={"Cookie": manager[0]},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and [c for _, c, _ in revisions(client)] == ["created"]
