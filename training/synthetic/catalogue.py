"""What the synthetic Western Balkans world is made of: offices, routes, commodities, texts.

Static tables only (no randomness). The segments, commodities and dispatch countries, which
other modules index when imported, are written here; the longer lists (offices, routes, codes,
texts, plates) are in `catalogue.yaml` beside this file, read once on first use (`tables()`,
never at import time) and reachable under their old names (`catalogue.OFFICES`). The names
follow DOMAIN.md: real road crossing points on the Balkan routes, the ports of Durrës and
Bar, airports and postal centres of the six administrations; commodities across chapters
with their own value per kg and duty, the weapon chapters (93) and the codes that hide
weapon parts (7318, 8487, 8708, 3916, 8485).
Nothing outside `training.synthetic` depends on these tables: the product never assumes
this region.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

CATALOGUE_FILE = "catalogue.yaml"

# The six administrations the synthetic offices belong to.
REGION: tuple[str, ...] = ("AL", "BA", "ME", "MK", "RS", "XK")

# Hour-of-day profile of lodging per segment family (24 weights each).
_ROAD_HOURS = (3, 2, 2, 2, 2, 3, 5, 7, 8, 8, 8, 8, 7, 7, 7, 7, 7, 7, 6, 6, 5, 5, 4, 4)
_OFFICE_HOURS = (0, 0, 0, 0, 0, 0, 1, 4, 9, 10, 10, 10, 9, 9, 9, 9, 8, 5, 2, 1, 0, 0, 0, 0)
_AIR_HOURS = (1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class Segment:
    """How a consignment crosses, and how its declarations look.

    `share` is of all declarations; `transport_mode` and `vehicle_type` are the canonical
    values it declares; `office_kind` the kind of office that serves it; `net_mass` the
    lognormal median (kg), sigma and bounds of a declaration's net mass; `hours` the 24
    weights of its lodging hour; `kg_per_package` the typical gross mass of one package.
    """

    name: str
    share: float
    transport_mode: str
    vehicle_type: str
    office_kind: str
    net_mass: tuple[float, float, float, float]
    hours: tuple[int, ...]
    kg_per_package: float


SEGMENTS: tuple[Segment, ...] = (
    Segment("truck", 0.36, "road", "truck", "road", (9000.0, 0.75, 150.0, 24000.0), _ROAD_HOURS, 600.0),
    Segment("van", 0.10, "road", "van", "road", (600.0, 0.7, 20.0, 1400.0), _ROAD_HOURS, 60.0),
    Segment("car", 0.08, "road", "car", "road", (35.0, 0.9, 1.0, 400.0), _ROAD_HOURS, 10.0),
    Segment("bus", 0.01, "road", "bus", "road", (25.0, 0.8, 1.0, 300.0), _ROAD_HOURS, 10.0),
    Segment("container", 0.12, "sea", "container", "port", (14000.0, 0.6, 300.0, 28000.0), _OFFICE_HOURS, 80.0),
    Segment("rail", 0.03, "rail", "other", "rail", (38000.0, 0.4, 5000.0, 60000.0), _ROAD_HOURS, 800.0),
    Segment("air_cargo", 0.07, "air", "other", "airport", (120.0, 1.1, 1.0, 5000.0), _AIR_HOURS, 15.0),
    Segment("express", 0.10, "air", "parcel", "airport", (1.2, 0.9, 0.05, 30.0), _AIR_HOURS, 1.0),
    Segment("postal", 0.13, "postal", "parcel", "postal", (0.6, 0.9, 0.02, 20.0), _OFFICE_HOURS, 1.0),
)  # fmt: skip
NIGHT_HOURS: tuple[int, ...] = (22, 23, 0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Office:
    """A customs office: its id, country, kind, and for a land border the neighbour it faces."""

    office_id: str
    country: str
    kind: str  # road, inland, port, rail, airport, postal
    neighbour: str | None = None
    weight: float = 1.0


# The route smugglers move to in the last part of the period (drift) enters at Gradina, which
# had no migrant cases before.
MIGRANT_DRIFT_OFFICE = "RS-GRADINA"


def _shares(text: str) -> tuple[tuple[str, float], ...]:
    """``"IT 0.30, TR 0.20"`` -> ``(("IT", 0.3), ("TR", 0.2))``: a table of shares on one line."""
    return tuple((code, float(share)) for code, share in (pair.split() for pair in text.split(",")))


# Dispatch countries by segment for non-road offices (country, weight); written here, as
# `training.synthetic.traffic` indexes them when imported.
PORT_DISPATCH = _shares(
    "IT 0.30, TR 0.20, CN 0.15, GR 0.10, ES 0.05, NL 0.05, EG 0.05, DE 0.05, IN 0.05"
)
AIR_DISPATCH = _shares(
    "DE 0.20, TR 0.20, IT 0.10, AT 0.10, CN 0.10, AE 0.10, GB 0.05, CH 0.05, US 0.05, NL 0.05"
)
EXPRESS_DISPATCH = _shares(
    "DE 0.20, US 0.15, CN 0.20, TR 0.15, GB 0.10, NL 0.05, IT 0.05, AT 0.05, CZ 0.05"
)
POSTAL_DISPATCH = _shares(
    "CN 0.35, US 0.10, DE 0.15, TR 0.10, GB 0.05, IT 0.05, AT 0.05, CZ 0.05, SK 0.05, FR 0.05"
)
RAIL_DISPATCH = _shares("HU 0.4, HR 0.3, AT 0.2, DE 0.1")


@dataclass(frozen=True)
class Commodity:
    """One national tariff line with how its consignments look.

    `value_per_kg` is the lognormal median in EUR, `sigma` its log spread; `duty` the MFN
    rate in percent; the weights say how often the line appears in freight (truck, container,
    rail), light freight (van, air cargo), parcels (post, express) and travellers' cars.
    `misclassified_as` names a lower-duty line that fraudsters declare instead.
    """

    hs_code: str
    descriptions: tuple[str, ...]
    value_per_kg: float
    sigma: float
    duty: float
    freight: float
    light: float
    parcel: float
    car: float
    origins: tuple[str, ...]
    mass_factor: float = 1.0
    misclassified_as: str | None = None


COMMODITIES: tuple[Commodity, ...] = (
    Commodity("02023090", ("frozen boneless beef", "frozen beef cuts"), 4.5, 0.35, 20, 1.5, 0.3, 0, 0, ("BR", "AR", "PL", "DE")),
    Commodity("04069000", ("cheese", "hard cheese", "kashkaval cheese"), 6.0, 0.4, 15, 1.5, 0.8, 0.2, 1.5, ("DE", "IT", "NL", "GR", "RS")),
    Commodity("07020000", ("fresh tomatoes", "tomatoes"), 0.9, 0.35, 20, 1.3, 0.8, 0, 0.3, ("MK", "AL", "TR", "GR")),
    Commodity("08051020", ("fresh oranges", "oranges"), 0.8, 0.35, 10, 1.5, 0.5, 0, 0.2, ("GR", "EG", "TR", "ES")),
    Commodity("09012100", ("roasted coffee", "coffee beans roasted"), 9.0, 0.4, 10, 1.0, 0.8, 0.5, 1.0, ("IT", "DE", "BR")),
    Commodity("10019900", ("wheat", "milling wheat"), 0.25, 0.2, 5, 1.2, 0, 0, 0, ("RS", "HU", "UA"), 1.4),
    Commodity("17019910", ("white sugar", "refined sugar"), 0.6, 0.25, 15, 1.5, 0.3, 0, 0.2, ("RS", "HR", "BR")),
    Commodity("21069098", ("food supplements", "vitamins", "protein powder"), 30.0, 0.7, 10, 0.3, 0.6, 1.2, 0.3, ("US", "DE", "NL")),
    Commodity("22030001", ("beer", "lager beer in cans"), 1.1, 0.3, 20, 1.5, 0.5, 0, 0.8, ("RS", "HR", "DE", "CZ")),
    Commodity("22042100", ("wine in bottles", "red wine", "white wine"), 3.5, 0.6, 25, 1.0, 0.5, 0.1, 1.0, ("IT", "MK", "FR", "ME", "CL"), 1.0, "22090000"),
    Commodity("22090000", ("vinegar", "wine vinegar"), 1.2, 0.4, 5, 0.3, 0.2, 0, 0.1, ("IT", "ES", "TR")),
    Commodity("24022090", ("cigarettes",), 60.0, 0.5, 40, 0.3, 0.2, 0, 0.4, ("TR", "AE", "BG", "CN"), 0.2),
    Commodity("25232900", ("portland cement", "cement in bags"), 0.08, 0.25, 5, 2.0, 0, 0, 0, ("TR", "GR", "RS"), 1.5),
    Commodity("27101943", ("diesel fuel", "gas oil"), 0.9, 0.2, 5, 1.5, 0, 0, 0, ("GR", "RS", "IT"), 1.2),
    Commodity("30049000", ("medicaments", "pharmaceutical products", "tablets"), 80.0, 0.9, 0, 1.0, 1.0, 0.6, 0.3, ("DE", "CH", "IN", "SI"), 0.3),
    Commodity("33049900", ("cosmetics", "skin care creams", "beauty products"), 25.0, 0.7, 10, 1.0, 1.0, 1.5, 0.5, ("FR", "IT", "DE", "CN", "TR"), 0.4),
    Commodity("39169050", ("plastic monofilament", "plastic filament", "PLA filament"), 3.0, 0.5, 8, 0.4, 0.5, 0.8, 0.1, ("CN", "DE", "US")),
    Commodity("39231090", ("plastic boxes", "plastic containers", "packaging"), 3.0, 0.5, 8, 1.0, 0.5, 0.3, 0.2, ("TR", "CN", "RS")),
    Commodity("40111000", ("car tyres", "tyres for cars"), 4.0, 0.35, 10, 1.2, 0.8, 0.1, 0.3, ("CN", "TR", "DE")),
    Commodity("44071190", ("sawn pine wood", "timber"), 0.3, 0.35, 0, 1.5, 0, 0, 0, ("BA", "RS", "AT"), 1.3),
    Commodity("48191000", ("corrugated cartons", "cardboard boxes"), 1.0, 0.35, 5, 1.0, 0.5, 0.1, 0, ("RS", "TR", "SI")),
    Commodity("49019900", ("books", "printed books"), 8.0, 0.5, 0, 0.2, 0.3, 1.0, 0.3, ("GB", "DE", "US", "RS")),
    Commodity("60062200", ("dyed cotton knitted fabric", "knitted fabric"), 8.0, 0.5, 10, 0.6, 0.5, 0.1, 0, ("TR", "CN", "IT")),
    Commodity("61091000", ("cotton t-shirts", "t-shirts", "clothing"), 15.0, 0.6, 30, 1.0, 1.0, 2.0, 1.0, ("CN", "TR", "BD"), 0.5, "60062200"),
    Commodity("62034200", ("men's cotton trousers", "jeans", "clothing"), 18.0, 0.6, 30, 1.0, 1.0, 1.5, 0.8, ("TR", "CN", "IT", "BD"), 0.5, "60062200"),
    Commodity("63090000", ("worn clothing", "second-hand clothes"), 1.2, 0.5, 20, 0.6, 0.5, 0, 0.5, ("DE", "IT", "AT", "CH")),
    Commodity("64029900", ("plastic footwear", "rubber shoes", "slippers"), 10.0, 0.6, 15, 0.6, 0.5, 0.5, 0.3, ("CN", "VN", "TR"), 0.5),
    Commodity("64039900", ("leather footwear", "leather shoes", "shoes"), 30.0, 0.6, 30, 0.8, 0.8, 1.5, 0.7, ("IT", "CN", "VN", "TR"), 0.4, "64029900"),
    Commodity("69072100", ("ceramic tiles", "floor tiles"), 0.5, 0.35, 10, 1.5, 0.3, 0, 0, ("ES", "IT", "TR", "CN"), 1.3),
    Commodity("72142000", ("steel reinforcing bars", "rebar"), 0.6, 0.25, 5, 1.5, 0, 0, 0, ("TR", "RS", "UA"), 1.5),
    Commodity("73181595", ("steel bolts and screws", "screws", "bolts and nuts", "fasteners"), 3.0, 0.6, 5, 1.2, 1.0, 1.0, 0.3, ("DE", "CN", "IT", "TR")),
    Commodity("73182400", ("steel pins and cotters", "steel pins", "cotter pins"), 5.0, 0.7, 5, 0.3, 0.4, 0.6, 0.1, ("DE", "CN", "US", "TR")),
    Commodity("76042900", ("aluminium profiles", "aluminium bars"), 3.5, 0.3, 5, 1.0, 0.3, 0, 0, ("GR", "TR", "RS")),
    Commodity("84151090", ("air conditioners", "split air conditioning units"), 8.0, 0.4, 10, 1.0, 0.5, 0, 0.1, ("CN", "TR")),
    Commodity("84669195", ("parts for machine tools", "tool parts", "spare parts"), 18.0, 0.8, 3, 0.4, 0.4, 0.3, 0.1, ("DE", "IT", "CN", "US")),
    Commodity("84713000", ("laptops", "portable computers", "notebook computers"), 150.0, 0.5, 0, 0.6, 1.0, 1.5, 0.3, ("CN",), 0.1),
    Commodity("84818099", ("valves and taps", "taps", "valves"), 12.0, 0.6, 5, 0.8, 0.8, 0.5, 0.2, ("IT", "DE", "CN")),
    Commodity("84851000", ("3D printer", "additive manufacturing machine", "printer"), 40.0, 0.6, 0, 0.1, 0.3, 0.3, 0, ("CN", "DE", "US")),
    Commodity("84879090", ("machine parts", "spare parts", "parts of machinery", "metal parts"), 15.0, 0.9, 5, 1.0, 1.0, 1.5, 0.2, ("DE", "IT", "CN", "US", "TR")),
    Commodity("85044090", ("power supplies", "chargers", "adapters"), 25.0, 0.6, 0, 0.5, 0.8, 1.2, 0.2, ("CN",), 0.3),
    Commodity("85171300", ("smartphones", "mobile phones"), 400.0, 0.5, 0, 0.4, 0.8, 2.0, 0.3, ("CN", "VN"), 0.05),
    Commodity("85285200", ("computer monitors", "monitors"), 20.0, 0.5, 0, 0.5, 0.6, 0.3, 0.1, ("CN", "PL")),
    Commodity("85287200", ("colour television receivers", "televisions", "smart TV"), 20.0, 0.5, 14, 0.8, 0.6, 0.2, 0.2, ("CN", "PL", "TR"), 1.0, "85285200"),
    Commodity("87089997", ("motor vehicle parts", "car parts", "spare parts", "auto parts"), 10.0, 0.8, 10, 1.5, 1.2, 1.2, 0.8, ("DE", "TR", "CN", "IT")),
    Commodity("87120030", ("bicycles", "mountain bikes"), 12.0, 0.5, 15, 0.4, 0.5, 0.3, 0.2, ("CN", "TW", "DE"), 0.6),
    Commodity("93020000", ("pistols", "handguns for licensed dealer"), 300.0, 0.5, 20, 0.004, 0.01, 0, 0, ("AT", "CZ", "TR", "US", "DE"), 0.05),
    Commodity("93032030", ("sporting shotguns", "hunting shotguns"), 150.0, 0.5, 20, 0.006, 0.02, 0, 0, ("IT", "TR", "DE"), 0.05),
    Commodity("93040000", ("alarm pistols", "gas pistols", "blank firing pistols", "signal pistols"), 60.0, 0.5, 20, 0.01, 0.03, 0.02, 0, ("TR", "IT", "DE"), 0.05),
    Commodity("93052000", ("parts of shotguns or rifles", "gun parts", "weapon accessories"), 100.0, 0.8, 15, 0.004, 0.01, 0.02, 0, ("US", "IT", "CZ", "TR"), 0.05),
    Commodity("93063090", ("cartridges", "hunting ammunition"), 12.0, 0.4, 20, 0.01, 0.03, 0, 0, ("RS", "CZ", "IT", "TR"), 0.2),
    Commodity("94036090", ("wooden furniture", "furniture", "kitchen furniture"), 3.0, 0.5, 10, 1.5, 1.0, 0.1, 0.3, ("TR", "CN", "BA", "IT", "PL")),
    Commodity("95030075", ("toys", "plastic toys", "children's toys"), 8.0, 0.6, 15, 0.8, 0.8, 1.5, 0.5, ("CN",), 0.5),
    Commodity("95069990", ("sports equipment", "fitness equipment"), 10.0, 0.6, 10, 0.4, 0.5, 1.0, 0.3, ("CN", "TR", "DE")),
    Commodity("71171900", ("imitation jewellery", "bijouterie"), 60.0, 0.8, 15, 0.05, 0.3, 1.0, 0.2, ("CN", "TR", "IT"), 0.05),
)  # fmt: skip

# The code weapon parts move to in the drift period, and the alarm/gas pistols' code.
WEAPON_DRIFT_CODE = "84669195"
GAS_PISTOL_CODE = "93040000"
TRANSIT_PROCEDURE = "8000"


@dataclass(frozen=True)
class Tables:
    """`catalogue.yaml` read: weights are relative, (key, weight) pairs keep the file's order."""

    offices: tuple[Office, ...]
    routes: tuple[tuple[str, float], ...]
    migrant_corridor_legs: tuple[str, ...]
    migrant_drift_legs: tuple[str, ...]
    export_destinations: tuple[tuple[str, float], ...]
    weapon_parts_dispatch: tuple[str, ...]
    weapon_disguise_codes: tuple[tuple[str, float], ...]
    weapon_misdescriptions: tuple[str, ...]
    printed_parts_descriptions: dict[str, tuple[str, ...]]
    migrant_cover_codes: tuple[str, ...]
    weapon_concealment: tuple[str, ...]
    migrant_concealment: tuple[str, ...]
    revenue_concealment: dict[str, str]
    watchlist_sources: tuple[str, ...]
    import_procedures: tuple[tuple[str, float], ...]
    export_procedures: tuple[tuple[str, float], ...]
    plate_templates: dict[str, tuple[str, ...]]
    preferential_origins: frozenset[str]


@cache
def tables() -> Tables:
    """The shipped `catalogue.yaml`, read once on first use."""
    text = resources.files("training.synthetic").joinpath(CATALOGUE_FILE).read_text("utf-8")
    return _tables(yaml.safe_load(text))


def _tables(data: dict[str, Any]) -> Tables:
    def weighted(name: str) -> tuple[tuple[str, float], ...]:
        rows = data[name].items() if isinstance(data[name], dict) else data[name]
        return tuple((str(key), float(weight)) for key, weight in rows)

    def texts(name: str) -> tuple[str, ...]:
        return tuple(str(text) for text in data[name])

    return Tables(
        offices=tuple(
            Office(office_id, country, kind, neighbour, float(weight))
            for office_id, country, kind, neighbour, weight in data["offices"]
        ),
        routes=weighted("routes"),
        migrant_corridor_legs=texts("migrant_corridor_legs"),
        migrant_drift_legs=texts("migrant_drift_legs"),
        export_destinations=weighted("export_destinations"),
        weapon_parts_dispatch=texts("weapon_parts_dispatch"),
        weapon_disguise_codes=weighted("weapon_disguise_codes"),
        weapon_misdescriptions=texts("weapon_misdescriptions"),
        printed_parts_descriptions={
            str(code): tuple(str(text) for text in texts_of_code)
            for code, texts_of_code in data["printed_parts_descriptions"].items()
        },
        migrant_cover_codes=texts("migrant_cover_codes"),
        weapon_concealment=texts("weapon_concealment"),
        migrant_concealment=texts("migrant_concealment"),
        revenue_concealment={str(k): str(v) for k, v in data["revenue_concealment"].items()},
        watchlist_sources=texts("watchlist_sources"),
        import_procedures=weighted("import_procedures"),
        export_procedures=weighted("export_procedures"),
        plate_templates={str(k): tuple(v) for k, v in data["plate_templates"].items()},
        preferential_origins=frozenset(texts("preferential_origins")),
    )


def __getattr__(name: str) -> Any:
    """The tables of `catalogue.yaml` under their upper-case names (`catalogue.OFFICES`)."""
    field = name.lower()
    if name.isupper() and field in Tables.__dataclass_fields__:
        return getattr(tables(), field)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
