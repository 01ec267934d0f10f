"""Canonical schemas: declarations, inspection outcomes and watchlist entries (DESIGN.md).

Everything downstream of validation reads frames in exactly this shape:

* string fields use pandas' default string dtype, missing values are NaN;
* datetimes are timezone-aware UTC;
* numbers are float64 (NaN when missing), flags are bool;
* ``hs_code`` is a 6-10 digit string, country codes upper-case ISO 3166-1 alpha-2
  (plus ``XK`` and ``ZZ``), ``itinerary`` the validated codes joined by ``>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal[
    "string", "datetime", "category", "country", "hs_code", "itinerary", "number", "count", "bool"
]

DEFAULT_THREATS: tuple[str, ...] = ("weapons", "migrants", "revenue")

FLOWS: tuple[str, ...] = ("import", "export", "transit")
TRANSPORT_MODES: tuple[str, ...] = (
    "sea",
    "rail",
    "road",
    "air",
    "postal",
    "fixed",
    "inland_water",
    "own_propulsion",
    "unknown",
)
# WCO Recommendation on transport mode codes (digit 1-9).
WCO_TRANSPORT_MODE_DIGITS: dict[str, str] = {
    "1": "sea",
    "2": "rail",
    "3": "road",
    "4": "air",
    "5": "postal",
    "7": "fixed",
    "8": "inland_water",
    "9": "own_propulsion",
    "0": "unknown",
    "6": "unknown",  # 6 is "multimodal" in the recommendation: the mode at the border is unknown
}
VEHICLE_TYPES: tuple[str, ...] = ("truck", "van", "car", "bus", "container", "parcel", "other")
INSPECTION_TYPES: tuple[str, ...] = ("documentary", "physical", "scan")
SELECTION_REASONS: tuple[str, ...] = ("model", "rule", "random", "officer", "intelligence")
RESULTS: tuple[str, ...] = ("clear", "irregular")
WATCHLIST_ENTITY_TYPES: tuple[str, ...] = ("vehicle_id", "importer_id", "exporter_id", "carrier_id")

# ISO 3166-1 alpha-2, plus XK (Kosovo: user-assigned, universal in the region) and ZZ (unknown).
COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK ZZ
    """.split()  # noqa: SIM905 - a block of codes reads better than 251 quoted strings
)


@dataclass(frozen=True)
class Field:
    """One canonical field: its name, kind, whether a source must provide it, and allowed values."""

    name: str
    kind: FieldKind
    required: bool
    allowed: tuple[str, ...] = ()
    default: str | None = None
    description: str = ""


DECLARATION_FIELDS: tuple[Field, ...] = (
    Field("declaration_id", "string", True, description="unique key"),
    Field("lodged_at", "datetime", True, description="when it was lodged"),
    Field("office_id", "string", True, description="customs office or border crossing point"),
    Field("flow", "category", False, FLOWS, default="import"),
    Field("procedure_code", "string", False),
    Field("transport_mode", "category", True, TRANSPORT_MODES, description="mode at the border"),
    Field(
        "vehicle_id", "string", False, description="plate, container number or postal tracking id"
    ),
    Field("vehicle_type", "category", False, VEHICLE_TYPES),
    Field("declarant_id", "string", True),
    Field("importer_id", "string", True),
    Field("exporter_id", "string", False, description="consignor or seller"),
    Field("carrier_id", "string", False, description="haulier or courier"),
    Field("origin_country", "country", True),
    Field("dispatch_country", "country", True),
    Field("destination_country", "country", False),
    Field("itinerary", "itinerary", False, description="countries of routing"),
    Field("hs_code", "hs_code", True, description="commodity code, 6 to 10 digits"),
    Field("goods_description", "string", False),
    Field("packages", "count", False),
    Field("gross_mass_kg", "number", False),
    Field("net_mass_kg", "number", True),
    Field("customs_value_eur", "number", True),
    Field("duty_rate", "number", False, description="percent"),
)

OUTCOME_FIELDS: tuple[Field, ...] = (
    Field("declaration_id", "string", True),
    Field("inspected_at", "datetime", True),
    Field("inspection_type", "category", False, INSPECTION_TYPES, default="physical"),
    Field("selection_reason", "category", False, SELECTION_REASONS),
    Field("selection_probability", "number", False),
    Field("result", "category", True, RESULTS),
    Field("weapons_found", "bool", False),
    Field("migrants_found", "count", False),
    Field("revenue_irregularity", "bool", False),
    Field("additional_duty_eur", "number", False),
    Field("concealment", "string", False),
    Field("notes", "string", False),
)

WATCHLIST_FIELDS: tuple[Field, ...] = (
    Field("entity_type", "category", True, WATCHLIST_ENTITY_TYPES),
    Field("entity_id", "string", True),
    Field("threat", "string", True),
    Field("valid_from", "datetime", True),
    Field("valid_to", "datetime", False, description="open-ended when missing"),
    Field("source", "string", False),
)

DECLARATION_COLUMNS: tuple[str, ...] = tuple(f.name for f in DECLARATION_FIELDS)
OUTCOME_COLUMNS: tuple[str, ...] = tuple(f.name for f in OUTCOME_FIELDS)
WATCHLIST_COLUMNS: tuple[str, ...] = tuple(f.name for f in WATCHLIST_FIELDS)

# Labels frame produced by features.sources.derive_labels, aligned row for row with declarations.
LABEL_PREFIX = "label_"
# Extra source columns kept as model features are renamed to EXTRA_PREFIX + a slug of their name.
EXTRA_PREFIX = "x_"


def label_column(threat: str) -> str:
    """Name of the 0/1/NaN label column of a threat in the labels frame."""
    return f"{LABEL_PREFIX}{threat}"
