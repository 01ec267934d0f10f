"""End to end in a real browser: officers and risk managers use the pages of the real server.

Each test signs in with single sign-on (the identity provider the fixture started on
127.0.0.1: authorization code flow with PKCE, state and nonce) in headless Chromium and checks
what the store and the consultation log hold afterwards. Screenshots land in test-artifacts/web.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from serving.access.keys import Role
from serving.audit import reading
from serving.store import repository
from serving.store.database import Store
from serving.store.tables import InspectionOverride, WebSession
from serving.web.session import SessionCodec, session_secret
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
            outcomes = repository.outcomes_of(session, first)
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
    pages = ["/web/worklist", "/web/model", "/web/audit", "/web/declarations/D1"]
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


# What a page shows besides its chrome: text nodes (SVG text and titles too) and aria labels,
# without the language selector (it names every language in its own language) and code.
VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll("select, code, script, style").forEach((e) => e.remove());
  const labels = [...document.querySelectorAll("[aria-label]")].map((e) => e.getAttribute("aria-label"));
  return [body.textContent, ...labels].join(" ");
}"""


# Words a translation writes as English does: Serbian "model", "log-šanse", "interval"; Albanian
# "log-shanset", the name in "rezultati Brier", months as Babel abbreviates them ("jan", "mar").
SAME_WORD = {"sr_Latn": {"model", "log", "interval"}, "sq": {"log", "brier", "jan", "mar"}}


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


def test_the_model_page_and_its_charts_leave_no_english_in_serbian_or_albanian(
    web_server: WebServer, new_page: Any, artifacts: Path
) -> None:
    """Every word the model page and its charts write in English is written otherwise in each
    shipped language; what stays is data (the model's name, the person's name)."""
    page = new_page()
    sign_in(page, web_server, "rui")
    assert page.url == f"{web_server.base_url}/web/model"
    english = prose_words(page.evaluate(VISIBLE_TEXT))
    assert {"champion", "calibration", "inspection", "predicted"} <= english  # the test sees
    data = prose_words(page.locator("h1").inner_text().removeprefix("Model ")) | {"rui", "manager"}
    selector, button = "Language", "Change language"
    for locale, heading in (("sr_Latn", "Kalibracija"), ("sq", "Kalibrimi")):
        page.get_by_label(selector).select_option(locale)
        page.get_by_role("button", name=button).click()
        assert page.get_by_role("heading", name=heading).count() == 1, (
            page.url,
            page.content()[:3000],
        )
        shown = page.evaluate(VISIBLE_TEXT)
        left = (english & prose_words(shown)) - data - SAME_WORD[locale]
        assert not left, f"{locale}: English left on the model page: {sorted(left)}"
        page.screenshot(path=str(artifacts / f"model_{locale}.png"), full_page=True)
        selector = "Jezik" if locale == "sr_Latn" else "Gjuha"
        button = "Promeni jezik" if locale == "sr_Latn" else "Ndrysho gjuhën"
