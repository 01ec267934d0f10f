"""Two partner agencies with their own keys and stores, for the exchange tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey

from serving.exchange.partners import ExchangeConfig, Partner, public_key
from serving.store.database import Store
from serving.store.tables import DeclarationLodging, InspectionOutcome, ScoredDeclaration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def agency(organisation: str, country: str, *, secret: bytes | None = None) -> ExchangeConfig:
    """An agency with a fresh Ed25519 key and no partners yet."""
    return ExchangeConfig(
        organisation=organisation,
        country=country,
        signing_key=OKPKey.generate_key("Ed25519"),
        pseudonym_key=secret or f"pseudonym key of {organisation}, 32+ characters".encode(),
        partners={},
    )


def knowing(config: ExchangeConfig, *others: ExchangeConfig, **agreements: Any) -> ExchangeConfig:
    """``config`` with ``others`` as partners (agreement fields by keyword, for all of them)."""
    partners: dict[str, Partner] = dict(config.partners)
    for other in others:
        partners[other.organisation] = Partner(
            organisation=other.organisation,
            country=other.country,
            key=public_key(other.public_jwk(), where="test"),
            personal_data=agreements.get("personal_data", False),
            redisseminate_from=frozenset(agreements.get("redisseminate_from", ())),
        )
    return replace(config, partners=partners)


def open_store(path: Path) -> Store:
    return Store.open(f"sqlite:///{path}")


def alert(
    sender: ExchangeConfig,
    recipient: str,
    *,
    handling: Mapping[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    message_id: str = "A-0001",
    retain_days: int = 90,
    **extra: Any,
) -> dict[str, Any]:
    """A valid alert from ``sender`` naming one vehicle and one company."""
    return {
        "schema_version": "1",
        "message_id": message_id,
        "kind": "alert",
        "sender": {"organisation": sender.organisation, "country": sender.country},
        "recipients": [recipient],
        "created_at": (NOW - timedelta(hours=1)).isoformat(),
        "handling": dict(handling or {"code": "H0"}),
        "evaluation": {"source_reliability": "B", "information_accuracy": 2},
        "tlp": "AMBER",
        "purpose": "customs",
        "personal_data": True,
        "retain_until": (NOW + timedelta(days=retain_days)).isoformat(),
        "threat": "weapons",
        "entities": entities
        if entities is not None
        else [
            {"local_id": "v1", "type": "vehicle", "identifier": "BG123AB", "vehicle_type": "van"},
            {"local_id": "c1", "type": "company", "identifier": "RS100200", "roles": ["importer"]},
        ],
        "links": [{"from": "c1", "to": "v1", "relation": "uses"}] if entities is None else [],
        **extra,
    }


def declaration(declaration_id: str, **values: Any) -> dict[str, Any]:
    """A canonical declaration as the store keeps it (JSON-ready)."""
    return {
        "declaration_id": declaration_id,
        "lodged_at": "2026-11-30T08:00:00+00:00",
        "office_id": "RS-HORGOS",
        "transport_mode": "road",
        "vehicle_id": "BG123AB",
        "vehicle_type": "van",
        "declarant_id": "DECL-1",
        "importer_id": "IMP-9",
        "origin_country": "TR",
        "dispatch_country": "BG",
        "destination_country": "RS",
        "itinerary": "TR>BG>RS",
        "hs_code": "930510",
        "goods_description": "pistol parts",
        "packages": 3.0,
        "net_mass_kg": 12.0,
        "customs_value_eur": 400.0,
        **values,
    }


def record_seizure(store: Store, values: Mapping[str, Any], *, weapons: bool = True) -> None:
    """A scored declaration and a positive inspection of it, written as the service does."""
    with store.transaction() as session:
        lodged = datetime.fromisoformat(values["lodged_at"])
        session.add(
            ScoredDeclaration(
                declaration_id=values["declaration_id"],
                office_id=values["office_id"],
                lodged_at=lodged,
                lodged_day=lodged.date(),
                declaration=dict(values),
                risk={"weapons": 0.4},
                overall=0.4,
                lane="red",
                reasons=[],
                model_name="shiprisk",
                model_version="1",
                scored_at=lodged,
            )
        )
        session.add(
            DeclarationLodging(
                declaration_id=values["declaration_id"],
                office_id=values["office_id"],
                lodged_at=lodged,
                declarant_id=values.get("declarant_id"),
                importer_id=values.get("importer_id"),
                recorded_at=lodged,
            )
        )
        session.add(
            InspectionOutcome(
                declaration_id=values["declaration_id"],
                inspected_at=lodged + timedelta(hours=2),
                inspection_type="physical",
                selection_reason="model",
                selection_probability=1.0,
                result="irregular" if weapons else "clear",
                weapons_found=weapons,
                migrants_found=0.0,
                revenue_irregularity=False,
                additional_duty_eur=None,
                concealment="hidden compartment behind the rear seats" if weapons else None,
                notes=None,
                recorded_at=lodged + timedelta(hours=3),
            )
        )
