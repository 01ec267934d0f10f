"""The outbox: hit and seizure reports for one partner, built from recorded positive outcomes.

Each report is one message (docs/exchange.md) with its event and the declaration's entities:
a shipment, the vehicle, the companies by role, the route. Before signing, every entity is
checked against what partners sent us: one that came in under H2 (or an H3 forbidding
dissemination) from another provider is left out unless the partners file records that
provider's permission for this recipient. Personal identifiers (vehicle and person ids) are
pseudonymised with a keyed hash per recipient unless its agreement allows them.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.exchange.message import SCHEMA_VERSION, no_dissemination
from serving.exchange.partners import ExchangeConfig, Partner
from serving.exchange.signing import sign
from serving.exchange.watchlist import entity_key
from serving.store.tables import (
    DeclarationLodging,
    ExchangeEntity,
    ExchangeMessage,
    InspectionOutcome,
    ScoredDeclaration,
)

PSEUDONYM_PREFIX = "ps1:"  # version of the pseudonym scheme
PERSONAL_KINDS = frozenset({"person", "vehicle"})  # whose identifiers are personal data
PARTY_ROLES = (("importer_id", "importer"), ("exporter_id", "exporter"), ("carrier_id", "carrier"))


class UnknownPartner(LookupError):
    """A recipient that is not in the partners file."""


@dataclass(frozen=True)
class Report:
    """One signed report and what the store keeps of it."""

    message: dict[str, Any]
    token: str
    declaration_id: str
    withheld: int


def pseudonym(key: bytes, recipient: str, kind: str, value: str) -> str:
    """The keyed hash a recipient sees instead of a personal identifier: the same value gives
    the same pseudonym for one recipient (so its reports link up) and another one for each
    other recipient (so partners cannot join what they hold)."""
    text = f"{recipient}\x00{kind}\x00{value}".encode()
    return PSEUDONYM_PREFIX + hmac.new(key, text, hashlib.sha256).hexdigest()[:40]


def is_positive(outcome: InspectionOutcome) -> bool:
    """Whether an inspection found something: weapons, persons, or an irregularity."""
    return bool(
        outcome.result == "irregular"
        or outcome.weapons_found
        or (outcome.migrants_found or 0) > 0
        or outcome.revenue_irregularity
    )


def _event(
    outcome: InspectionOutcome, declaration: Mapping[str, Any], office: str, country: str
) -> tuple[str, dict[str, Any]]:
    """(message kind, event) of a positive outcome."""
    if outcome.weapons_found:
        kind, threat, event_type = "seizure_report", "weapons", "seizure"
        packages = declaration.get("packages")
        quantity = (
            {"value": float(packages), "unit": "packages"}
            if packages is not None
            else {"value": float(declaration.get("net_mass_kg") or 0.0), "unit": "kg"}
        )
    elif (outcome.migrants_found or 0) > 0:
        kind, threat, event_type = "hit_report", "migrants", "hit"
        quantity = {"value": float(outcome.migrants_found or 0), "unit": "persons"}
    else:
        kind, threat, event_type = "hit_report", "revenue", "hit"
        quantity = {"value": float(outcome.additional_duty_eur or 0.0), "unit": "eur"}
    event: dict[str, Any] = {
        "type": event_type,
        "date": outcome.inspected_at.isoformat(),
        "office_id": office,
        "country": country,
        "threat": threat,
        "hs_code": str(declaration["hs_code"]),
        "quantity": quantity,
        "detection_method": outcome.inspection_type,
    }
    if declaration.get("goods_description"):
        event["commodity"] = str(declaration["goods_description"])[:2000]
    if outcome.concealment:
        event["concealment_method"] = outcome.concealment[:2000]
    return kind, event


def _entities(
    declaration: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(entities, links) of a declaration, with local ids; identifiers in clear."""
    shipment: dict[str, Any] = {
        "local_id": "s1",
        "type": "shipment",
        "reference": str(declaration["declaration_id"]),
        "hs_code": str(declaration["hs_code"]),
    }
    for name in ("origin_country", "destination_country"):
        if declaration.get(name) and declaration[name] != "ZZ":
            shipment[name] = declaration[name]
    if declaration.get("net_mass_kg") is not None:
        shipment["net_mass_kg"] = float(declaration["net_mass_kg"])
    entities = [shipment]
    links: list[dict[str, Any]] = []
    if declaration.get("vehicle_id"):
        vehicle = {"local_id": "v1", "type": "vehicle", "identifier": declaration["vehicle_id"]}
        if declaration.get("vehicle_type"):
            vehicle["vehicle_type"] = declaration["vehicle_type"]
        entities.append(vehicle)
        links.append({"from": "v1", "to": "s1", "relation": "conveyed"})
    roles: dict[str, list[str]] = defaultdict(list)
    for field, role in (*PARTY_ROLES, ("declarant_id", "declarant")):
        if declaration.get(field):
            roles[str(declaration[field])].append(role)
    for number, (identifier, company_roles) in enumerate(roles.items(), start=1):
        local_id = f"c{number}"
        entities.append(
            {
                "local_id": local_id,
                "type": "company",
                "identifier": identifier,
                "roles": company_roles,
            }
        )
        links.extend({"from": local_id, "to": "s1", "relation": role} for role in company_roles)
    itinerary = [c for c in str(declaration.get("itinerary") or "").split(">") if c]
    if len(itinerary) >= 2:
        entities.append({"local_id": "r1", "type": "route", "countries": itinerary})
        links.append({"from": "s1", "to": "r1", "relation": "routed"})
    return entities, links


def restricted_providers(
    session: Session, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], set[str]]:
    """Per (kind, key), the providers that sent it to us under a no-dissemination handling."""
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    keys = sorted({key for _, key in pairs})
    for start in range(0, len(keys), 400):
        for kind, key, provider in session.execute(
            select(ExchangeEntity.kind, ExchangeEntity.key, ExchangeEntity.source_agency)
            .where(ExchangeEntity.restricted, ExchangeEntity.key.in_(keys[start : start + 400]))
            .distinct()
        ):
            if key is not None:
                found[(kind, key)].add(provider)
    return found


def _withhold(
    entities: list[dict[str, Any]],
    links: list[dict[str, Any]],
    restricted: Mapping[tuple[str, str], set[str]],
    recipient: Partner,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """The entities (and links) this recipient may receive, and the local ids left out."""
    out: set[str] = set()
    for entity in entities:
        key = entity_key(entity)
        providers = set() if key is None else restricted.get((entity["type"], key), set())
        forbidding = providers - {recipient.organisation} - recipient.redisseminate_from
        if forbidding:
            out.add(entity["local_id"])
    kept = [entity for entity in entities if entity["local_id"] not in out]
    kept_links = [link for link in links if link["from"] not in out and link["to"] not in out]
    return kept, kept_links, out


def _pseudonymised(
    entities: list[dict[str, Any]], key: bytes, recipient: Partner
) -> list[dict[str, Any]]:
    if recipient.personal_data:
        return entities
    changed = []
    for entity in entities:
        if entity["type"] in PERSONAL_KINDS:
            entity = {
                **entity,
                "identifier": pseudonym(
                    key, recipient.organisation, entity["type"], entity["identifier"]
                ),
                "pseudonymised": True,
            }
            entity.pop("name", None)
            entity.pop("birth_date", None)
        changed.append(entity)
    return changed


def build_reports(
    session: Session,
    config: ExchangeConfig,
    recipient_id: str,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
) -> list[Report]:
    """Signed reports for ``recipient_id`` of every positive outcome recorded since ``since``.

    Raises:
        UnknownPartner: the recipient is not in the partners file.
    """
    recipient = config.partners.get(recipient_id)
    if recipient is None:
        raise UnknownPartner(
            f"{recipient_id} is not a configured partner: add it to the partners file "
            "(SHIPRISK_EXCHANGE_PARTNERS_FILE) with its agreement"
        )
    now = now or datetime.now(UTC)
    query = select(InspectionOutcome).order_by(InspectionOutcome.recorded_at, InspectionOutcome.id)
    if since is not None:
        query = query.where(InspectionOutcome.recorded_at >= since)
    positive = [outcome for outcome in session.scalars(query) if is_positive(outcome)]
    ids = sorted({outcome.declaration_id for outcome in positive})
    declarations: dict[str, Mapping[str, Any]] = {}
    offices: dict[str, str] = {}
    for start in range(0, len(ids), 400):
        chunk = ids[start : start + 400]
        for row in session.scalars(
            select(ScoredDeclaration)
            .where(ScoredDeclaration.declaration_id.in_(chunk))
            .order_by(ScoredDeclaration.id)
        ):
            declarations[row.declaration_id] = row.declaration  # the newest scoring wins
        for lodging in session.scalars(
            select(DeclarationLodging).where(DeclarationLodging.declaration_id.in_(chunk))
        ):
            offices[lodging.declaration_id] = lodging.office_id
    outcomes = [outcome for outcome in positive if outcome.declaration_id in declarations]
    built = [(outcome, *_entities(declarations[outcome.declaration_id])) for outcome in outcomes]
    pairs = [
        (entity["type"], key)
        for _, entities, _ in built
        for entity in entities
        if (key := entity_key(entity)) is not None
    ]
    restricted = restricted_providers(session, pairs)
    reports = []
    for outcome, entities, links in built:
        declaration = declarations[outcome.declaration_id]
        kept, kept_links, out = _withhold(entities, links, restricted, recipient)
        kind, event = _event(
            outcome,
            declaration,
            offices.get(outcome.declaration_id, declaration["office_id"]),
            config.country,
        )
        if "v1" in {e["local_id"] for e in kept}:
            event["conveyance"] = "v1"
        kept = _pseudonymised(kept, config.pseudonym_key, recipient)
        message: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "message_id": str(uuid.uuid4()),
            "kind": kind,
            "sender": {"organisation": config.organisation, "country": config.country},
            "recipients": [recipient.organisation],
            "created_at": now.isoformat(),
            "handling": {"code": config.handling_code},
            "evaluation": {"source_reliability": "A", "information_accuracy": 1},
            "tlp": "AMBER",
            "purpose": "customs",
            "personal_data": any(
                e["type"] in PERSONAL_KINDS and not e.get("pseudonymised") for e in kept
            ),
            "retain_until": (now + config.retention).isoformat(),
            "entities": kept,
            "links": kept_links,
            "event": event,
        }
        token = sign(message, config.signing_key, config.organisation)
        reports.append(Report(message, token, outcome.declaration_id, len(out)))
    return reports


def record_sent(
    session: Session, reports: Sequence[Report], *, recorded_by: str, recorded_at: datetime
) -> None:
    """Keep every report sent (never commits): the disclosure, with the token as signed."""
    for report in reports:
        message = report.message
        session.add(
            ExchangeMessage(
                direction="out",
                partner=message["recipients"][0],
                message_id=message["message_id"],
                kind=message["kind"],
                schema_version=message["schema_version"],
                created_at=datetime.fromisoformat(message["created_at"]),
                recorded_at=recorded_at,
                recorded_by=recorded_by,
                handling_code=message["handling"]["code"],
                handling_note=None,
                no_dissemination=no_dissemination(message["handling"]),
                source_reliability=message["evaluation"]["source_reliability"],
                information_accuracy=message["evaluation"]["information_accuracy"],
                tlp=message["tlp"],
                purpose=message["purpose"],
                personal_data=message["personal_data"],
                retain_until=datetime.fromisoformat(message["retain_until"]),
                entities=len(message["entities"]),
                watchlist_entries=0,
                withheld=report.withheld,
                declaration_ids=[report.declaration_id],
                payload=message,
                token=report.token,
            )
        )
    session.flush()
