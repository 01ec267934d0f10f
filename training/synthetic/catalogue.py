"""What the synthetic Western Balkans world is made of: offices, routes, commodities, texts.

Static tables only (no randomness, no I/O). The names follow DOMAIN.md: real road crossing
points on the Balkan routes, the ports of Durrës and Bar, airports and postal centres of the
six administrations; commodities across chapters with their own value per kg and duty, the
weapon chapters (93) and the codes that hide weapon parts (7318, 8487, 8708, 3916, 8485).
Nothing outside `training.synthetic` depends on these tables: the product never assumes
this region.
"""

from __future__ import annotations

from dataclasses import dataclass

# The six administrations the synthetic offices belong to.
REGION: tuple[str, ...] = ("AL", "BA", "ME", "MK", "RS", "XK")

# Origins whose goods enter the region duty-free under free-trade agreements (EU, CEFTA,
# EFTA, Turkey, United Kingdom); every other origin pays the commodity's MFN duty.
PREFERENTIAL_ORIGINS: frozenset[str] = frozenset(
    (
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
        *("AL", "BA", "ME", "MK", "RS", "XK", "MD", "CH", "NO", "IS", "LI", "TR", "GB"),
    )
)

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


OFFICES: tuple[Office, ...] = (
    # North Macedonia
    Office("MK-BOGORODICA", "MK", "road", "GR", 3.0),
    Office("MK-TABANOVCE", "MK", "road", "RS", 2.5),
    Office("MK-BLACE", "MK", "road", "XK", 1.0),
    Office("MK-KAFASAN", "MK", "road", "AL", 0.8),
    Office("MK-DELCEVO", "MK", "road", "BG", 0.6),
    Office("MK-SKOPJE-TERMINAL", "MK", "inland", None, 2.0),
    Office("MK-SKOPJE-AIRPORT", "MK", "airport"),
    Office("MK-SKOPJE-POSTAL", "MK", "postal"),
    # Serbia
    Office("RS-PRESEVO", "RS", "road", "MK", 2.5),
    Office("RS-HORGOS", "RS", "road", "HU", 3.0),
    Office("RS-BATROVCI", "RS", "road", "HR", 2.5),
    Office("RS-GRADINA", "RS", "road", "BG", 2.0),
    Office("RS-SREMSKA-RACA", "RS", "road", "BA", 1.0),
    Office("RS-GOSTUN", "RS", "road", "ME", 0.5),
    Office("RS-BEOGRAD-TERMINAL", "RS", "inland", None, 3.0),
    Office("RS-SUBOTICA-RAIL", "RS", "rail", "HU", 1.0),
    Office("RS-SID-RAIL", "RS", "rail", "HR", 1.0),
    Office("RS-BEOGRAD-AIRPORT", "RS", "airport", None, 2.0),
    Office("RS-BEOGRAD-POSTAL", "RS", "postal", None, 2.0),
    # Albania
    Office("AL-KAKAVIJA", "AL", "road", "GR", 2.0),
    Office("AL-KAPSHTICE", "AL", "road", "GR", 1.0),
    Office("AL-HANI-I-HOTIT", "AL", "road", "ME", 1.0),
    Office("AL-QAFE-THANE", "AL", "road", "MK", 0.8),
    Office("AL-MORINE", "AL", "road", "XK", 1.0),
    Office("AL-TIRANA-TERMINAL", "AL", "inland", None, 1.5),
    Office("AL-DURRES-PORT", "AL", "port", None, 3.0),
    Office("AL-TIRANA-AIRPORT", "AL", "airport"),
    Office("AL-TIRANA-POSTAL", "AL", "postal"),
    # Montenegro
    Office("ME-BOZAJ", "ME", "road", "AL", 0.8),
    Office("ME-DOBRAKOVO", "ME", "road", "RS", 0.5),
    Office("ME-VRACENOVICI", "ME", "road", "BA", 0.7),
    Office("ME-DEBELI-BRIJEG", "ME", "road", "HR", 0.8),
    Office("ME-BAR-PORT", "ME", "port", None, 1.5),
    Office("ME-PODGORICA-AIRPORT", "ME", "airport", None, 0.5),
    Office("ME-PODGORICA-POSTAL", "ME", "postal", None, 0.5),
    # Bosnia and Herzegovina
    Office("BA-IZACIC", "BA", "road", "HR", 1.0),
    Office("BA-BIJACA", "BA", "road", "HR", 1.5),
    Office("BA-GRADISKA", "BA", "road", "HR", 1.5),
    Office("BA-RACA", "BA", "road", "RS", 1.0),
    Office("BA-KLOBUK", "BA", "road", "ME", 0.5),
    Office("BA-SARAJEVO-TERMINAL", "BA", "inland", None, 2.0),
    Office("BA-SARAJEVO-AIRPORT", "BA", "airport"),
    Office("BA-SARAJEVO-POSTAL", "BA", "postal"),
    # Kosovo
    Office("XK-HANI-I-ELEZIT", "XK", "road", "MK", 1.5),
    Office("XK-VERMICA", "XK", "road", "AL", 1.0),
    Office("XK-MERDARE", "XK", "road", "RS", 0.7),
    Office("XK-PRISHTINA-AIRPORT", "XK", "airport"),
    Office("XK-PRISHTINA-POSTAL", "XK", "postal"),
)

# Road routes (country sequence) with their relative freight volume.
ROUTES: tuple[tuple[str, float], ...] = (
    # imports into the region
    ("DE>AT>HU>RS", 6.0),
    ("IT>SI>HR>RS", 3.0),
    ("TR>BG>RS", 4.0),
    ("HU>RS", 3.0),
    ("HR>RS", 3.0),
    ("BG>RS", 2.0),
    ("BA>RS", 1.5),
    ("ME>RS", 0.5),
    ("GR>MK", 4.0),
    ("BG>MK", 2.0),
    ("RS>MK", 3.0),
    ("TR>BG>MK", 2.0),
    ("DE>AT>HU>RS>MK", 2.0),
    ("AL>MK", 0.8),
    ("XK>MK", 0.8),
    ("GR>AL", 3.0),
    ("MK>AL", 1.0),
    ("ME>AL", 0.8),
    ("XK>AL", 0.8),
    ("HR>BA", 5.0),
    ("SI>HR>BA", 2.0),
    ("DE>AT>SI>HR>BA", 3.0),
    ("RS>BA", 3.0),
    ("ME>BA", 0.8),
    ("RS>ME", 1.5),
    ("HR>ME", 1.0),
    ("AL>ME", 0.8),
    ("BA>ME", 0.8),
    ("MK>XK", 2.0),
    ("AL>XK", 2.0),
    ("RS>XK", 0.8),
    # transit through the region
    ("GR>MK>RS>HU", 5.0),
    ("GR>MK>RS>HR", 2.0),
    ("GR>MK>RS>BA", 1.0),
    ("TR>BG>RS>HU", 4.0),
    ("TR>BG>RS>HR", 2.0),
    ("GR>AL>ME", 1.0),
    ("GR>AL>ME>BA", 0.8),
    ("GR>AL>ME>BA>HR", 0.5),
    ("BG>MK>AL", 0.8),
    ("HU>RS>MK>GR", 3.0),
    ("HR>RS>BG>TR", 1.5),
    # exports from the region
    ("RS>HU>AT>DE", 4.0),
    ("RS>HR>SI>IT", 2.0),
    ("BA>HR>SI>AT", 3.0),
    ("BA>HR", 3.0),
    ("MK>GR", 2.0),
    ("MK>RS>HU", 2.0),
    ("AL>GR", 2.0),
    ("AL>MK>RS", 1.0),
    ("XK>MK>GR", 1.0),
    ("ME>HR", 1.0),
    ("RS>MK>GR", 2.0),
    ("MK>BG>TR", 1.0),
    ("RS>BG>TR", 1.5),
)

# The Balkan migrant corridors (DOMAIN.md): Greece -> North Macedonia -> Serbia -> north/west,
# and Greece -> Albania -> Montenegro -> Bosnia and Herzegovina.
MIGRANT_CORRIDOR_LEGS: tuple[str, ...] = (
    "GR>MK",
    "MK>RS",
    "RS>HU",
    "RS>HR",
    "GR>AL",
    "AL>ME",
    "ME>BA",
)
# The route smugglers move to in the last part of the period (drift): Turkey -> Bulgaria -> Serbia,
# entering at Gradina, which had no migrant cases before.
MIGRANT_DRIFT_LEGS: tuple[str, ...] = ("BG>RS",)
MIGRANT_DRIFT_OFFICE = "RS-GRADINA"

# Dispatch countries by segment for non-road offices (country, weight).
PORT_DISPATCH: tuple[tuple[str, float], ...] = (
    ("IT", 0.30), ("TR", 0.20), ("CN", 0.15), ("GR", 0.10), ("ES", 0.05), ("NL", 0.05),
    ("EG", 0.05), ("DE", 0.05), ("IN", 0.05),
)  # fmt: skip
AIR_DISPATCH: tuple[tuple[str, float], ...] = (
    ("DE", 0.20), ("TR", 0.20), ("IT", 0.10), ("AT", 0.10), ("CN", 0.10), ("AE", 0.10),
    ("GB", 0.05), ("CH", 0.05), ("US", 0.05), ("NL", 0.05),
)  # fmt: skip
EXPRESS_DISPATCH: tuple[tuple[str, float], ...] = (
    ("DE", 0.20), ("US", 0.15), ("CN", 0.20), ("TR", 0.15), ("GB", 0.10), ("NL", 0.05),
    ("IT", 0.05), ("AT", 0.05), ("CZ", 0.05),
)  # fmt: skip
POSTAL_DISPATCH: tuple[tuple[str, float], ...] = (
    ("CN", 0.35), ("US", 0.10), ("DE", 0.15), ("TR", 0.10), ("GB", 0.05), ("IT", 0.05),
    ("AT", 0.05), ("CZ", 0.05), ("SK", 0.05), ("FR", 0.05),
)  # fmt: skip
RAIL_DISPATCH: tuple[tuple[str, float], ...] = (("HU", 0.4), ("HR", 0.3), ("AT", 0.2), ("DE", 0.1))
EXPORT_DESTINATIONS: tuple[tuple[str, float], ...] = (
    ("DE", 0.3), ("IT", 0.25), ("AT", 0.1), ("GR", 0.1), ("TR", 0.1), ("US", 0.05), ("CH", 0.1),
)  # fmt: skip
# Where weapon parts bought online are shipped from (DOMAIN.md: post and express).
WEAPON_PARTS_DISPATCH: tuple[str, ...] = ("US", "TR", "DE", "AT", "CZ", "SK", "CN")


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

# Codes that hide weapon parts (DOMAIN.md), and the one parts move to in the drift period.
WEAPON_DISGUISE_CODES: tuple[tuple[str, float], ...] = (
    ("73182400", 3.0),
    ("73181595", 1.0),
    ("84879090", 3.0),
    ("87089997", 2.0),
    ("39169050", 1.0),
    ("84851000", 0.3),
    ("93052000", 0.5),
)
WEAPON_DRIFT_CODE = "84669195"
GAS_PISTOL_CODE = "93040000"
# Descriptions used to hide weapon parts; legitimate parcels use them too. Every English text
# here and in COMMODITIES has local variants in descriptions.yaml (step `languages`).
WEAPON_MISDESCRIPTIONS: tuple[str, ...] = (
    "steel pins",
    "machine parts",
    "spare parts",
    "samples",
    "metal parts",
    "gift",
    "tools",
)
# Cheap, bulky loads behind which people are hidden.
MIGRANT_COVER_CODES: tuple[str, ...] = ("44071190", "48191000", "39231090", "08051020", "69072100")

WEAPON_CONCEALMENT: tuple[str, ...] = (
    "disassembled pistol parts in parcel",
    "hidden compartment under rear seat",
    "inside door panels",
    "mixed with machine parts",
    "converted gas pistols in consignment",
    "ammunition in spare tyre",
)
MIGRANT_CONCEALMENT: tuple[str, ...] = (
    "false floor in trailer",
    "behind pallets in load",
    "engine compartment",
    "refrigerated trailer",
    "in cargo space of van",
)
REVENUE_CONCEALMENT: dict[str, str] = {
    "undervaluation": "undervalued invoice",
    "misclassification": "goods misclassified to a lower-duty code",
    "false_origin": "false certificate of origin",
}

# Partner agencies that share watchlist entries.
WATCHLIST_SOURCES: tuple[str, ...] = (
    "SELEC",
    "Frontex",
    "Europol",
    "national police",
    "partner customs",
)

# Procedure codes (ASYCUDA customs procedure codes) by flow.
IMPORT_PROCEDURES: tuple[tuple[str, float], ...] = (
    ("4000", 0.85),
    ("4071", 0.05),
    ("5100", 0.05),
    ("7100", 0.05),
)
EXPORT_PROCEDURES: tuple[tuple[str, float], ...] = (("1000", 0.9), ("2100", 0.1))
TRANSIT_PROCEDURE = "8000"

# Vehicle plate templates per registration country: 'A' a letter, '9' a digit, others literal.
PLATE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "AL": ("AA999AA",),
    "BA": ("A99-A-999",),
    "ME": ("PG-AA999", "BR-AA999", "NK-AA999"),
    "MK": ("SK-9999-AA", "BT-9999-AA", "KU-9999-AA", "TE-9999-AA"),
    "RS": ("BG-999-AA", "NS-999-AA", "NI-999-AA", "KG-999-AA"),
    "XK": ("01-999-AA", "02-999-AA", "03-999-AA"),
    "GR": ("AAA-9999",),
    "TR": ("34-AAA-999", "06-AAA-99", "35-AA-999"),
    "BG": ("CA9999AA", "PB9999AA"),
    "HU": ("AAA-999",),
    "HR": ("ZG-9999-AA", "ST-999-AA"),
    "SI": ("LJ-AA-999",),
    "AT": ("W-99999A", "G-9999A"),
    "DE": ("M-AA-9999", "B-AA-999", "S-AA-9999"),
    "IT": ("AA999AA",),
    "CH": ("ZH-999999",),
    "PL": ("WA-99999",),
    "CZ": ("9A9-9999",),
}
