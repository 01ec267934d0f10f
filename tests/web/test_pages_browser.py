"""End to end in a real browser: officers and risk managers use the pages of the real server.

Each test signs in with single sign-on (the identity provider the fixture started on
127.0.0.1: authorization code flow with PKCE, state and nonce) in headless Chromium and checks
what the store and the consultation log hold afterwards. Screenshots land in test-artifacts/web.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import select, update

from serving.access.keys import Role
from serving.audit import reading
from serving.store import outcomes as stored_outcomes
from serving.store.database import Store
from serving.store.tables import InspectionOverride, WebSession
from serving.web.session import SessionCodec, session_secret
from tests.serving.conftest import json_payload
from tests.web.conftest import PEOPLE, PEPPER, WebServer

pytestmark = pytest.mark.slow
JUSTIFICATION = "daily targeting, order 2024/117"
SINGLE_SIGN_ON = "Sign in with your organisation's account"
LANDED = re.compile(r".*/web/(worklist|model)$")


def sign_in(page: Any, server: WebServer, person: str, path: str = "/web/") -> None:
    """Open a page signed out, go to the identity provider and sign in there as ``person``;
    back at the service, wait for their role's page."""
    page.goto(f"{server.base_url}{path}")
    assert page.url == f"{server.base_url}/web/sign-in"
    page.get_by_role("link", name=SINGLE_SIGN_ON).click()
    assert page.url.startswith(f"{server.issuer}/oauth2/authorize?")
    asked = page.url
    assert "code_challenge_method=S256" in asked and "nonce=" in asked and "state=" in asked
    page.get_by_role("button", name=person, exact=True).click()
    page.wait_for_url(LANDED)


def person_records(server: WebServer, name: str) -> list[Any]:
    """The consultation-log records naming the person ``name``, oldest first."""
    store = Store.open(server.database_url)
    try:
        with store.transaction() as session:
            return list(reversed(reading.query_records(session, person=name, limit=500)))
    finally:
        store.close()


def test_officer_opens_a_worklist_and_a_declaration_and_records_an_outcome(
    web_server: WebServer, new_page: Any, artifacts: Path
) -> None:
    page = new_page()
    sign_in(page, web_server, "ana")
    assert page.url == f"{web_server.base_url}/web/worklist"

    page.get_by_label("Office").fill(web_server.office_id)
    page.get_by_label("Day (UTC)").fill(web_server.day)
    page.get_by_label("Inspections possible").fill("6")
    page.get_by_role("button", name="Show worklist").click()
    # Asked once per session why, then back to the worklist that was asked for.
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Why are you consulting declarations?"
    )
    page.get_by_label("Justification").fill(JUSTIFICATION)
    page.get_by_role("button", name="Continue").click()

    rows = page.locator("table.worklist tbody tr")
    assert rows.count() == 6
    header = page.locator("table.worklist thead th").all_inner_texts()
    assert header == [
        "Rank",
        "Declaration",
        "Lane",
        "Overall",
        *[t.capitalize() for t in web_server.threats],
        "Top reason",
        "Selected by",
    ]
    lanes = page.locator("table.worklist tbody .lane").all_inner_texts()
    assert len(lanes) == 6 and set(lanes) <= {"RED", "YELLOW", "GREEN"}  # text, not colour only
    assert page.locator("table.worklist").bounding_box()["width"] <= 1366
    page.screenshot(path=str(artifacts / "worklist.png"))

    first = page.locator("table.worklist tbody tr").first.locator("td").nth(1).inner_text()
    page.get_by_role("link", name=first, exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Declaration {first}")
    assert page.locator("figure.waterfall svg").count() == len(web_server.threats)
    assert page.get_by_text("Justification").count() == 0  # not asked a second time
    page.screenshot(path=str(artifacts / "declaration.png"), full_page=True)

    page.get_by_label("Inspected at (UTC)").fill("2024-03-01T10:30")
    page.get_by_label("Result").select_option("irregular")
    page.get_by_label("Revenue irregularity").check()
    page.get_by_label("Additional duty (EUR)").fill("812.5")
    page.get_by_label("Notes").fill("undervalued spare parts")
    page.get_by_role("button", name="Record outcome").click()
    assert page.get_by_role("status").inner_text() == "Inspection outcome recorded."
    assert page.locator("table.outcomes tbody tr").count() == 1

    store = Store.open(web_server.database_url)
    try:
        with store.transaction() as session:
            outcomes = stored_outcomes.outcomes_of(session, first)
            logged = reading.query_records(session, declaration_id=first, limit=50)
    finally:
        store.close()
    assert [
        (o.result, o.revenue_irregularity, o.additional_duty_eur, o.notes) for o in outcomes
    ] == [("irregular", True, 812.5, "undervalued spare parts")]
    officer = web_server.key_ids[Role.OFFICER]
    trail = [
        (r.event.route, r.event.status, r.event.person, r.event.justification)
        for r in reversed(logged)
    ]
    declaration = "GET /v1/declarations/{declaration_id}"
    decisions = "GET /v1/declarations/{declaration_id}/waivers"  # its waiver and addition
    ana = "Ana Officer"
    assert trail == [
        ("POST /v1/scores", 200, None, None),  # the test's set-up, with a key
        ("GET /v1/worklist", 200, ana, JUSTIFICATION),
        (declaration, 200, ana, JUSTIFICATION),
        (decisions, 200, ana, JUSTIFICATION),
        ("POST /v1/outcomes", 200, ana, JUSTIFICATION),
        (declaration, 200, ana, JUSTIFICATION),  # the page again, with the outcome
        (decisions, 200, ana, JUSTIFICATION),
    ]
    assert logged[-1].event.key_id == officer  # the set-up's key
    # Every record of hers names the identity provider and her subject.
    hers = person_records(web_server, ana)
    assert {(r.event.issuer, r.event.subject) for r in hers} == {(web_server.issuer, "ana")}
    assert hers[0].event.route == "GET /web/oidc/callback"  # the sign-in, recorded first


def test_officer_waives_a_worklist_pick_from_the_declaration_page(
    web_server: WebServer, new_page: Any, artifacts: Path
) -> None:
    page = new_page()
    sign_in(page, web_server, "ana")
    page.get_by_label("Office").fill(web_server.office_id)
    page.get_by_label("Day (UTC)").fill(web_server.day)
    page.get_by_label("Inspections possible").fill("6")
    page.get_by_role("button", name="Show worklist").click()
    if page.get_by_label("Justification").count():  # asked once per session
        page.get_by_label("Justification").fill(JUSTIFICATION)
        page.get_by_role("button", name="Continue").click()
    second = page.locator("table.worklist tbody tr").nth(1).locator("td").nth(1).inner_text()
    page.get_by_role("link", name=second, exact=True).click()
    assert page.locator("ul.selection").inner_text().startswith("worklist draw")
    assert page.get_by_text("No waiver or addition recorded.").count() == 1

    # OTHER without a reason: refused by the API, shown on the page, nothing stored.
    page.get_by_label("Exception").select_option("OTHER")
    page.get_by_role("button", name="Waive inspection").click()
    assert "must give its reason" in page.locator("#decision-errors").inner_text()

    page.get_by_label("Exception").select_option(label="Documentary check sufficient")
    page.locator("#waiver_reason").fill("invoice and licence checked at the window")
    page.get_by_role("button", name="Waive inspection").click()
    assert page.get_by_role("status").inner_text() == "Waiver recorded."
    row = page.locator("table.decisions tbody tr")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[:4] == [
        "inspection waived",
        "DOCUMENTS_SUFFICE",
        "invoice and licence checked at the window",
        "Ana Officer",
    ]
    assert page.get_by_role("button", name="Waive inspection").count() == 0  # once only
    page.screenshot(path=str(artifacts / "declaration-waived.png"), full_page=True)

    store = Store.open(web_server.database_url)
    try:
        with store.transaction() as session:
            (waiver,) = session.scalars(
                select(InspectionOverride).where(InspectionOverride.declaration_id == second)
            ).all()
            logged = reading.query_records(session, declaration_id=second, limit=50)
    finally:
        store.close()
    assert (waiver.action, waiver.code, waiver.person) == (
        "waiver",
        "DOCUMENTS_SUFFICE",
        "Ana Officer",
    )
    assert waiver.key_id.startswith("session:")  # a page calls as her session, not a key
    assert waiver.draw_id is not None and waiver.pick_reason in ("model", "random", "rule")
    waivers = [
        (r.event.status, r.event.person)
        for r in logged
        if r.event.route == "POST /v1/declarations/{declaration_id}/waivers"
    ]
    assert sorted(waivers) == [(201, "Ana Officer"), (422, "Ana Officer")]


def test_risk_manager_opens_the_model_page_and_searches_the_audit_log(
    web_server: WebServer, new_page: Any, artifacts: Path
) -> None:
    page = new_page()
    sign_in(page, web_server, "rui")
    assert page.url == f"{web_server.base_url}/web/model"
    versions = page.locator("table.versions").inner_text()
    assert re.search(r"Champion \(served\)\s+version \d+", versions)
    assert page.locator("svg.rates").count() == len(web_server.threats)
    assert page.locator("svg.calibration").count() == len(web_server.threats)
    page.screenshot(path=str(artifacts / "model.png"), full_page=True)

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Person").fill("Rui Manager")
    page.get_by_role("button", name="Search").click()
    routes = page.locator("table.audit tbody tr td:nth-child(5)").all_inner_texts()
    assert routes[:3] == ["GET /v1/audit", "GET /v1/model", "GET /web/oidc/callback"]

    # An officer's consultations, by her name: what she looked at and why.
    officer = new_page()
    sign_in(officer, web_server, "ana")
    officer.goto(
        f"{web_server.base_url}/web/worklist?office_id={web_server.office_id}"
        f"&date={web_server.day}&capacity=3"
    )
    officer.get_by_label("Justification").fill("case 2024/555")
    officer.get_by_role("button", name="Continue").click()
    assert officer.locator("table.worklist tbody tr").count() == 3

    page.get_by_label("Person").fill("Ana Officer")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.audit tbody tr")
    assert rows.first.locator("td:nth-child(5)").inner_text() == "GET /v1/worklist"
    assert rows.first.locator("td:nth-child(8)").inner_text() == "case 2024/555"
    who = set(page.locator("table.audit tbody td.who").all_inner_texts())
    assert who and all(" ".join(t.split()).startswith("Ana Officer ana · session:") for t in who)
    page.screenshot(path=str(artifacts / "audit_by_person.png"), full_page=True)


def test_signed_out_users_and_wrong_roles_get_the_sign_in_page_or_403(
    web_server: WebServer, new_page: Any
) -> None:
    base = web_server.base_url
    pages = [
        "/web/worklist",
        "/web/model",
        "/web/audit",
        "/web/declarations/D1",
        "/web/profiles",
        "/web/profiles/new",
    ]
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        for path in pages:
            answer = client.get(path)
            assert (answer.status_code, answer.headers["location"]) == (303, "/web/sign-in")
        forged = client.get("/web/model", cookies={"shiprisk_session": "eyJrZXkiOiJ4In0.forged"})
        assert (forged.status_code, forged.headers["location"]) == (303, "/web/sign-in")

    officer = new_page()
    sign_in(officer, web_server, "ana")
    (cookie,) = officer.context.cookies()  # the sign-in flow's own cookie is gone
    assert (cookie["name"], cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (
        "shiprisk_session",
        True,
        True,
        "Strict",
    )
    assert web_server.keys[Role.OFFICER] not in cookie["value"]
    for path in ("/web/model", "/web/audit"):
        answer = officer.goto(f"{base}{path}")
        assert answer.status == 403
        assert officer.get_by_role("alert").inner_text() == (
            "Your role (officer) may not open this page."
        )
        assert officer.locator("table").count() == 0

    manager = new_page()
    sign_in(manager, web_server, "rui")
    manager.goto(f"{base}/web/justification?next=/web/worklist")
    manager.get_by_label("Justification").fill(JUSTIFICATION)
    manager.get_by_role("button", name="Continue").click()
    answer = manager.goto(
        f"{base}/web/worklist?office_id={web_server.office_id}&date={web_server.day}&capacity=5"
    )
    assert answer.status == 403
    assert manager.locator("table").count() == 0


def test_an_officer_switches_the_pages_to_serbian_and_albanian(
    web_server: WebServer, new_page: Any, artifacts: Path
) -> None:
    """The language selector keeps the choice in the session: headings, labels, reasons and
    numbers follow it; the API calls of the pages ask for the same language."""
    page = new_page()
    sign_in(page, web_server, "ana")
    page.get_by_label("Language").select_option("sr_Latn")
    page.get_by_role("button", name="Change language").click()
    assert page.url == f"{web_server.base_url}/web/worklist"
    assert page.get_by_role("heading", level=1).inner_text() == "Lista za kontrolu"
    assert page.locator("html").get_attribute("lang") == "sr-Latn"

    page.get_by_label("Carinarnica").fill(web_server.office_id)
    page.get_by_label("Dan (UTC)").fill(web_server.day)
    page.get_by_label("Mogući broj kontrola").fill("4")
    page.get_by_role("button", name="Prikaži listu za kontrolu").click()
    assert page.get_by_role("heading", level=1).inner_text() == ("Zašto vršite uvid u deklaracije?")
    page.get_by_label("Obrazloženje").fill(JUSTIFICATION)
    page.get_by_role("button", name="Nastavi").click()
    header = page.locator("table.worklist thead th").all_inner_texts()
    assert header[:4] == ["Redni broj", "Deklaracija", "Kanal", "Ukupno"]
    lanes = page.locator("table.worklist tbody .lane").all_inner_texts()
    assert lanes and set(lanes) <= {"CRVENI", "ŽUTI", "ZELENI"}
    risks = page.locator("table.worklist tbody td.num").all_inner_texts()
    assert all(re.fullmatch(r"\d+,\d%", risk) for risk in risks), risks  # decimal comma
    page.screenshot(path=str(artifacts / "worklist_sr_Latn.png"))

    first = page.locator("table.worklist tbody tr").first.locator("td").nth(1).inner_text()
    page.get_by_role("link", name=first, exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Deklaracija {first}")
    assert page.get_by_role("heading", name="Razlozi").count() == 1
    shown = page.locator("ol.reasons li").all_inner_texts()
    translated = httpx.get(
        f"{web_server.base_url}/v1/declarations/{first}",
        headers={
            "Authorization": f"Bearer {web_server.keys[Role.OFFICER]}",
            "X-Justification": JUSTIFICATION,
            "Accept-Language": "sr-Latn",
        },
    ).json()["latest"]["reasons"]
    assert translated and len(shown) == len(translated)
    for line, reason in zip(shown, translated, strict=True):
        assert reason["text"] in line
    page.screenshot(path=str(artifacts / "declaration_sr_Latn.png"), full_page=True)

    page.get_by_label("Jezik").select_option("sq")
    page.get_by_role("button", name="Promeni jezik").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Deklarata {first}")
    assert page.get_by_role("heading", name="Arsyet").count() == 1
    page.screenshot(path=str(artifacts / "declaration_sq.png"), full_page=True)


def test_the_sign_in_page_follows_the_browser_language_or_the_choice_before_sign_in(
    web_server: WebServer,
) -> None:
    base = web_server.base_url
    with httpx.Client(base_url=base) as client:
        albanian = client.get("/web/sign-in", headers={"Accept-Language": "sq-AL,en;q=0.5"})
        assert '<html lang="sq">' in albanian.text and "<h1>Hyni</h1>" in albanian.text
        english = client.get("/web/sign-in", headers={"Accept-Language": "de"})
        assert "<h1>Sign in</h1>" in english.text
        chosen = client.get(
            "/web/sign-in",
            headers={"Accept-Language": "sq", "Cookie": "shiprisk_language=sr_Latn"},
        )
        assert "<h1>Prijava</h1>" in chosen.text  # the choice wins over the browser
        refused = client.post(  # with single sign-on set up, keys sign no one in
            "/web/sign-in",
            data={"api_key": web_server.keys[Role.OFFICER]},
            headers={"Accept-Language": "sr-Latn"},
        )
        assert refused.status_code == 401
        assert "Prijavite se nalogom svoje organizacije" in refused.text
        assert "shiprisk_session" not in refused.headers.get("set-cookie", "")
        picked = client.post(
            "/web/language",
            data={"locale": "sq", "next": "/web/sign-in"},
            follow_redirects=False,
        )
        assert picked.status_code == 303 and picked.headers["location"] == "/web/sign-in"
        assert "shiprisk_language=sq" in picked.headers["set-cookie"]


def test_a_person_without_a_mapped_role_is_refused_and_recorded(
    web_server: WebServer, new_page: Any
) -> None:
    page = new_page()
    page.goto(f"{web_server.base_url}/web/sign-in")
    page.get_by_role("link", name=SINGLE_SIGN_ON).click()
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="eve", exact=True).click()
    assert landed.value.status == 401
    assert page.get_by_role("alert").inner_text() == (
        "Your account has no role in shiprisk: ask your administrator."
    )
    assert page.context.cookies() == [] or all(
        c["name"] != "shiprisk_session" for c in page.context.cookies()
    )
    assert page.goto(f"{web_server.base_url}/web/worklist").url.endswith("/web/sign-in")
    (refusal,) = person_records(web_server, PEOPLE["eve"]["name"])
    assert (refusal.event.route, refusal.event.status, refusal.event.subject) == (
        "GET /web/oidc/callback",
        401,
        "eve",
    )


def test_expired_ended_and_tampered_sessions_are_refused(
    web_server: WebServer, new_page: Any
) -> None:
    base = web_server.base_url
    expiring, tampered, leaving = new_page(), new_page(), new_page()
    for page in (expiring, tampered, leaving):
        sign_in(page, web_server, "ana")

    # expired: the store says so (as ten hours later would)
    (cookie,) = expiring.context.cookies()
    reference = SessionCodec(session_secret(PEPPER.encode())).loads(cookie["value"])
    assert reference is not None
    store = Store.open(web_server.database_url)
    try:
        with store.transaction() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.session_id == reference[0])
                .values(expires_at=WebSession.created_at)
            )
    finally:
        store.close()
    assert expiring.goto(f"{base}/web/worklist").url == f"{base}/web/sign-in"

    # tampered: the signature's first character changed (its last one may only carry base64
    # padding bits, which decode to the same signature)
    (original,) = tampered.context.cookies()
    value = original["value"]
    at = value.rindex(".") + 1
    changed = value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1 :]
    tampered.context.clear_cookies()
    tampered.context.add_cookies([{**original, "value": changed}])
    assert tampered.goto(f"{base}/web/worklist").url == f"{base}/web/sign-in"

    # ended: signing out ends the session in the store, so the old cookie is worth nothing
    (kept,) = leaving.context.cookies()
    leaving.get_by_role("button", name="Sign out").click()
    assert leaving.url == f"{base}/web/sign-in"
    leaving.context.add_cookies([kept])
    assert leaving.goto(f"{base}/web/worklist").url == f"{base}/web/sign-in"
    routes = [r.event.route for r in person_records(web_server, "Ana Officer")]
    assert routes[-1] == "POST /web/sign-out"


# What a page shows besides its chrome: text nodes one by one (SVG text and titles too; table
# cells do not run together), the window's title, aria labels and placeholders, without the language selector (it names every language
# in its own language) and code.
VISIBLE_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest("select, code, script, style, [translate=no]")) {
      texts.push(walker.currentNode.textContent);
    }
  }
  const attributes = [...document.querySelectorAll("[aria-label], [placeholder]")].map(
    (e) => [e.getAttribute("aria-label"), e.getAttribute("placeholder")].join(" "));
  return [document.title, ...texts, ...attributes].join(" ");
}"""


# Words a translation writes as English does: Serbian "model", "log-šanse", "interval",
# "status"; Albanian "log-shanset", "model" (of "modeli"), the name in "rezultati Brier",
# months as Babel abbreviates them ("jan", "mar").
SAME_WORD = {
    "sr_Latn": {"model", "log", "interval", "status"},
    "sq": {"log", "brier", "jan", "mar", "status"},
}
# Data every page may show whatever the language: the people's names, the product's (and the
# justification the person typed, and the model's name).
DATA_WORDS = {"ana", "officer", "rui", "manager", "shiprisk"}


def prose_words(text: str) -> set[str]:
    """The words of running text: identifiers (feature names with "_", codes with digits) and
    abbreviations (ROC-AUC, PSI, SHAP, MLflow) and URIs left out, as no language translates
    them."""
    words = set()
    for token in text.split():
        if any(c.isdigit() or c in "_:/@" for c in token):  # identifiers, URIs
            continue
        for word in re.findall(r"[^\W\d_]{3,}", token):
            if word[1:] == word[1:].lower():
                words.add(word.casefold())
    return words


# Texts of the page's charts drawn past their chart's left or right edge, as the browser
# measures them (getBBox, in the chart's own units).
OVERFLOWING_CHART_TEXT = """() => [...document.querySelectorAll("svg.chart")].flatMap((svg) => {
  const width = svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll("text")].filter((text) => {
    const box = text.getBBox();
    return box.x < -0.5 || box.x + box.width > width + 0.5;
  }).map((text) => `${svg.getAttribute("class")}: ${text.textContent}`);
})"""


@dataclass(frozen=True)
class TranslatedPage:
    """A page checked for English left in every shipped language.

    ``person`` opens it (None: signed out), with a justification given first when
    ``justified``; ``path`` may name ``{office}``, ``{day}`` and ``{declaration}`` (a scored
    declaration of that office and day); ``sees`` are English words the page must show, so
    the check is known to read it; ``labelled`` selects cells that name machine names
    (features, fields) and must show their labels, never the names ("importer_declarations").
    """

    name: str
    person: str | None
    path: str
    sees: frozenset[str]
    justified: bool = False
    labelled: str = ""


# Every page of serving/web/: a new page (or a new state of one) adds its row here, and its
# strings to serving/web/locale/*/LC_MESSAGES/pages.po; the test then fails on every English
# word it left in Serbian or Albanian.
TRANSLATED_PAGES = (
    TranslatedPage("sign-in", None, "/web/sign-in", frozenset({"sign", "organisation"})),
    TranslatedPage(
        "justification",
        "ana",
        "/web/justification?next=/web/worklist",
        frozenset({"consulting", "justification"}),
    ),
    TranslatedPage(
        "worklist",
        "ana",
        "/web/worklist?office_id={office}&date={day}&capacity=6",
        frozenset({"worklist", "declarations", "exploration"}),
        justified=True,
    ),
    TranslatedPage(
        "declaration",
        "ana",
        "/web/declarations/{declaration}",
        frozenset({"declaration", "reasons", "declared", "outcome"}),
        justified=True,
        labelled="dl.fields dt",
    ),
    TranslatedPage(
        "model",
        "rui",
        "/web/model",
        frozenset({"champion", "calibration", "inspection", "predicted", "importance"}),
        labelled="table.importance tbody th",
    ),
    TranslatedPage(
        "audit",
        "rui",
        "/web/audit?person=Rui+Manager",
        frozenset({"consultation", "records", "justification"}),
    ),
    TranslatedPage("refused", "ana", "/web/model", frozenset({"role", "may", "allowed"})),
)


def scored_declaration(server: WebServer) -> str:
    """The first declaration of the server's worklist (the API's answer, with a key)."""
    answer = httpx.get(
        f"{server.base_url}/v1/worklist",
        params={"office_id": server.office_id, "date": server.day, "capacity": 1},
        headers={
            "Authorization": f"Bearer {server.keys[Role.OFFICER]}",
            "X-Justification": JUSTIFICATION,
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["picks"][0]["declaration_id"])


def model_name(server: WebServer) -> str:
    """The served model's registered name (data: pages show it as it is)."""
    answer = httpx.get(
        f"{server.base_url}/v1/model",
        headers={"Authorization": f"Bearer {server.keys[Role.RISK_MANAGER]}"},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model"]["name"])


@pytest.mark.parametrize("shown", TRANSLATED_PAGES, ids=lambda shown: shown.name)
def test_no_english_is_left_on_a_page_in_serbian_or_albanian(
    web_server: WebServer, new_page: Any, artifacts: Path, shown: TranslatedPage
) -> None:
    """Every word a page (and its charts) writes in English is written otherwise in each
    shipped language; what stays is data (names of people, models, offices). Every chart's
    text fits inside the chart in every language."""
    page = new_page()
    if shown.person is not None:
        sign_in(page, web_server, shown.person)
    if shown.justified:
        page.goto(f"{web_server.base_url}/web/justification?next=/web/")
        page.get_by_label("Justification").fill(JUSTIFICATION)
        page.get_by_role("button", name="Continue").click()
    declaration = scored_declaration(web_server) if "{declaration}" in shown.path else ""
    path = shown.path.format(
        office=web_server.office_id, day=web_server.day, declaration=declaration
    )
    page.goto(f"{web_server.base_url}{path}")
    english = prose_words(page.evaluate(VISIBLE_TEXT))
    assert shown.sees <= english, sorted(shown.sees - english)  # the test reads the page
    assert page.evaluate(OVERFLOWING_CHART_TEXT) == []
    if shown.labelled:
        labels = page.locator(shown.labelled).all_inner_texts()
        assert labels and not [label for label in labels if "_" in label], labels
    data = DATA_WORDS | prose_words(model_name(web_server)) | prose_words(JUSTIFICATION)
    selector, button = "Language", "Change language"
    for locale in ("sr_Latn", "sq"):
        page.get_by_label(selector).select_option(locale)
        page.get_by_role("button", name=button).click()
        assert page.locator("html").get_attribute("lang") == locale.replace("_", "-")
        shown_text = page.evaluate(VISIBLE_TEXT)
        left = (english & prose_words(shown_text)) - data - SAME_WORD[locale]
        assert not left, f"{locale}: English left on the {shown.name} page: {sorted(left)}"
        assert page.evaluate(OVERFLOWING_CHART_TEXT) == [], locale  # charts fit their text
        page.screenshot(path=str(artifacts / f"{shown.name}_{locale}.png"), full_page=True)
        selector = "Jezik" if locale == "sr_Latn" else "Gjuha"
        button = "Promeni jezik" if locale == "sr_Latn" else "Ndrysho gjuhën"


PROFILE_ID = "SALW-BUSY-OFFICE"
BAD_CRITERIA = (
    "op: all\nof:\n  - {op: office, offices: [X]}\n  - {op: range, field: colour, max: 2}\n"
)


def fill_profile_form(page: Any, office_id: str, criteria: str) -> None:
    page.get_by_label("Profile id").fill(PROFILE_ID)
    page.get_by_label("Title").fill("Pistol parts at the busiest office")
    page.get_by_label("Threat", exact=True).fill("weapons")
    page.get_by_label("Lane").select_option("red")
    page.get_by_label("Criteria (YAML)").fill(criteria)
    page.get_by_label("Rationale").fill("Partner alert 2024/17 names this crossing.")
    page.get_by_label("Instructions for the examining officer").fill("Open every parcel.")
    page.get_by_label("Owner").fill("Risk unit")


def test_a_risk_manager_writes_edits_and_expires_a_profile_and_reads_its_performance(
    web_server: WebServer, trained: Any, new_page: Any, artifacts: Path
) -> None:
    page = new_page()
    sign_in(page, web_server, "rui")
    page.get_by_role("link", name="Risk profiles").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Risk profiles"
    page.get_by_role("link", name="New profile").click()

    # A criterion naming an unknown field: the API's field path, and the input kept.
    fill_profile_form(page, web_server.office_id, BAD_CRITERIA)
    page.get_by_role("button", name="Save profile").click()
    problems = page.locator("#profile-errors li").all_inner_texts()
    assert any(p.startswith("criteria.all.of[1].range.field: Input should be") for p in problems)
    assert page.get_by_label("Title").input_value() == "Pistol parts at the busiest office"
    assert page.get_by_label("Criteria (YAML)").input_value() == BAD_CRITERIA
    page.screenshot(path=str(artifacts / "profile_invalid.png"), full_page=True)

    criteria = f"{{op: office, offices: [{web_server.office_id}]}}"
    page.get_by_label("Criteria (YAML)").fill(criteria)
    page.get_by_role("button", name="Save profile").click()
    assert page.get_by_role("status").inner_text() == "The profile was saved."
    assert page.get_by_role("heading", level=1).inner_text() == f"Risk profile {PROFILE_ID}"

    # Declarations scored now match it: its performance counts them.
    declarations = pd.read_parquet(trained.declarations_path)
    busiest = declarations[
        (declarations["office_id"] == web_server.office_id)
        & (declarations["lodged_at"].astype(str).str[:10] == web_server.day)
    ]
    rescored = httpx.post(
        f"{web_server.base_url}/v1/scores",
        json={"declarations": json_payload(busiest)},
        headers={"Authorization": f"Bearer {web_server.keys[Role.OFFICER]}"},
        timeout=60,
    )
    assert rescored.status_code == 200, rescored.text
    page.get_by_label("From (UTC day)").fill(web_server.day)
    page.get_by_label("To (UTC day)").fill(web_server.day)
    page.get_by_role("button", name="Show").click()
    total = page.locator("table.performance tr.total td").all_inner_texts()
    assert total[0] == str(len(busiest))  # matches over the window
    assert page.locator("svg.profile-rates").count() == 1
    page.screenshot(path=str(artifacts / "profile_performance.png"), full_page=True)

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Title").fill("Pistol parts and ammunition at the busiest office")
    page.get_by_role("button", name="Save profile").click()
    assert page.get_by_role("status").inner_text() == "The profile was saved."
    assert "Pistol parts and ammunition" in page.locator("p.summary").inner_text()
    page.get_by_role("button", name="Expire now").click()
    assert page.get_by_role("status").inner_text() == "The profile was expired."
    changes = page.locator("table.revisions tbody tr td:nth-child(2)").all_inner_texts()
    assert changes == ["expired", "revised", "created"]
    assert page.get_by_role("button", name="Expire now").count() == 0

    # The officer reads the list: the profile, expired, and no way to change it.
    officer = new_page()
    sign_in(officer, web_server, "ana")
    officer.get_by_role("link", name="Risk profiles").click()
    row = officer.locator("table.profiles tbody tr", has_text=PROFILE_ID)
    assert row.locator("td.state").inner_text() == "expired"
    assert officer.get_by_role("link", name="New profile").count() == 0
    assert officer.goto(f"{web_server.base_url}/web/profiles/new").status == 403
    routes = [r.event.route for r in person_records(web_server, "Rui Manager")]
    assert {"POST /v1/profiles", "PUT /v1/profiles/{profile_id}"} <= set(routes)
    assert "POST /v1/profiles/{profile_id}/expire" in routes


def test_the_profile_pages_leave_no_english_in_serbian_or_albanian(
    web_server: WebServer, new_page: Any, artifacts: Path
) -> None:
    """The list, a profile with its performance and chart, and the form: every word the
    pages write in English is written otherwise; what stays is the profile's own text."""
    page = new_page()
    sign_in(page, web_server, "rui")
    profile = {
        "id": "SQ-SR-WORDS",
        "title": "Ammunition hidden in spare tyres",
        "threat": "weapons",
        "criteria": {"op": "hs_prefix", "prefixes": ["4011"]},
        "action": {"lane": "yellow", "percent": 30},
        "rationale": "Seizure report from the northern crossing.",
        "instructions": "Deflate and weigh every spare tyre.",
        "owner": "Targeting centre",
        "valid_from": "2024-01-01T00:00:00Z",
        "review_date": "2024-06-01",
    }
    made = httpx.post(
        f"{web_server.base_url}/v1/profiles",
        json=profile,
        headers={"Authorization": f"Bearer {web_server.keys[Role.RISK_MANAGER]}"},
    )
    assert made.status_code == 201, made.text
    # Data: every stored profile's own words (the other tests' too), the person, and month
    # names as Babel abbreviates dates in each language.
    stored = httpx.get(
        f"{web_server.base_url}/v1/profiles",
        headers={"Authorization": f"Bearer {web_server.keys[Role.RISK_MANAGER]}"},
    ).json()["profiles"]
    own = ("title", "rationale", "instructions", "owner")
    data = prose_words(" ".join(str(p["profile"].get(k, "")) for p in stored for k in own))
    data |= {
        "shiprisk",
        "rui",
        "manager",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "dec",
    }
    paths = {
        "list": "/web/profiles",
        "profile": f"/web/profiles/{profile['id']}?since={web_server.day}&until={web_server.day}",
        "form": "/web/profiles/new",
    }
    selector, button = "Language", "Change language"
    english = {}
    for name, path in paths.items():
        page.goto(f"{web_server.base_url}{path}")
        english[name] = prose_words(page.evaluate(VISIBLE_TEXT))
    assert {"matches", "inspections", "revisions", "criteria"} <= english["profile"]
    for locale in ("sr_Latn", "sq"):
        page.get_by_label(selector).select_option(locale)
        page.get_by_role("button", name=button).click()
        for name, path in paths.items():
            page.goto(f"{web_server.base_url}{path}")
            left = (english[name] & prose_words(page.evaluate(VISIBLE_TEXT))) - data
            left -= SAME_WORD[locale]
            assert not left, f"{locale}: English left on the profile {name} page: {sorted(left)}"
            page.screenshot(path=str(artifacts / f"profile_{name}_{locale}.png"), full_page=True)
        selector = "Jezik" if locale == "sr_Latn" else "Gjuha"
        button = "Promeni jezik" if locale == "sr_Latn" else "Ndrysho gjuhën"
