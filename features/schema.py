"""Canonical schemas: declarations, inspection outcomes and watchlist entries (DESIGN.md).

Everything downstream of validation reads frames in exactly this shape:

* string fields use pandas' default string dtype, missing values are NaN;
* datetimes are timezone-aware UTC;
* numbers are float64 (NaN when missing), flags are bool;
* ``hs_code`` is a 6-10 digit string, country codes upper-case ISO 3166-1 alpha-2
  (plus ``XK`` and ``ZZ``), ``itinerary`` the validated codes joined by ``>``.

The field tables below are the one rule set of every input path (files, batch scoring, the
API): each row gives a field's kind (which fixes its normalisation, see `features.rules`),
whether a source must give it, its allowed values and its caps. `features.validation`,
`features.records` and the API's pydantic models are all derived from these rows.

Caps (generous: real exports pass, junk and typos do not):

| what | cap |
|---|---|
| ids and codes (`*_id`, procedure code, watchlist entity and threat) | at most 200 characters |
| free text (goods description, concealment, notes, watchlist source) | at most 2,000 characters |
| itinerary as written | at most 200 characters |
| masses (kg) | 0 to 10,000,000,000 (ten million tonnes) |
| values and duties (EUR) | 0 to 1,000,000,000,000 |
| packages | whole, 0 to 1,000,000,000 |
| migrants found | whole, 0 to 10,000 |
| duty rate (percent) | 0 to 10,000 |
| selection probability | 0 to 1 |
| every date | 1990-01-01 to 2100-12-31 (UTC) |

Numbers must be finite: infinity is refused, NaN counts as no value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# Canonical datetime dtype: pandas 3 parses strings to microseconds; every table uses the same
# unit so that point-in-time joins (merge_asof) between tables never meet mismatched dtypes.
DATETIME_DTYPE: Final = "datetime64[us, UTC]"

FieldKind = Literal[
    "string", "datetime", "category", "country", "hs_code", "itinerary", "number", "count", "bool"
]

MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 2000
MAX_ROUTE_CHARS = 200
MAX_MASS_KG = 1e10
MAX_EUR = 1e12
MAX_PACKAGES = 1e9
MAX_PERSONS = 1e4
MAX_PERCENT = 1e4
# Inclusive; checked on the UTC time.
EARLIEST_YEAR = 1990
LATEST_YEAR = 2100

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
# Each entity type is the canonical field a watchlist entry is matched against: ids by their
# normalised value, an itinerary entry ("GR>MK") by a run of countries in the declaration's
# itinerary, an HS code entry (2 to 10 digits) by prefix (features.watchlist).
WATCHLIST_ENTITY_TYPES: tuple[str, ...] = (
    "vehicle_id",
    "importer_id",
    "exporter_id",
    "carrier_id",
    "declarant_id",
    "itinerary",
    "hs_code",
)
# Europol SIENA handling codes; H2/H3 entries are shown to officers only as "a hit exists".
# Category values are canonical in lower case (input in any case; shown upper-cased).
HANDLING_CODES: tuple[str, ...] = ("h0", "h1", "h2", "h3")
RESTRICTED_HANDLING_CODES: tuple[str, ...] = ("h2", "h3")
SOURCE_RELIABILITY: tuple[str, ...] = ("a", "b", "c", "x")
INFORMATION_ACCURACY: tuple[str, ...] = ("1", "2", "3", "4")

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
    """One canonical field's rule: name, kind, whether a source must provide it, allowed
    values, default, and caps (``max_chars`` of text, ``maximum`` of a number; numbers are
    never negative)."""

    name: str
    kind: FieldKind
    required: bool
    allowed: tuple[str, ...] = ()
    default: str | None = None
    description: str = ""
    max_chars: int | None = None
    maximum: float | None = None


_ID = MAX_ID_CHARS
_TEXT = MAX_TEXT_CHARS

DECLARATION_FIELDS: tuple[Field, ...] = (
    Field("declaration_id", "string", True, description="unique key", max_chars=_ID),
    Field("lodged_at", "datetime", True, description="when it was lodged"),
    Field(
        "office_id",
        "string",
        True,
        description="customs office or border crossing point",
        max_chars=_ID,
    ),
    Field("flow", "category", False, FLOWS, default="import"),
    Field("procedure_code", "string", False, max_chars=_ID),
    Field("transport_mode", "category", True, TRANSPORT_MODES, description="mode at the border"),
    Field(
        "vehicle_id",
        "string",
        False,
        description="plate, container number or postal tracking id",
        max_chars=_ID,
    ),
    Field("vehicle_type", "category", False, VEHICLE_TYPES),
    Field("declarant_id", "string", True, max_chars=_ID),
    Field("importer_id", "string", True, max_chars=_ID),
    Field("exporter_id", "string", False, description="consignor or seller", max_chars=_ID),
    Field("carrier_id", "string", False, description="haulier or courier", max_chars=_ID),
    Field("origin_country", "country", True),
    Field("dispatch_country", "country", True),
    Field("destination_country", "country", False),
    Field(
        "itinerary",
        "itinerary",
        False,
        description="countries of routing",
        max_chars=MAX_ROUTE_CHARS,
    ),
    Field("hs_code", "hs_code", True, description="commodity code, 6 to 10 digits"),
    Field("goods_description", "string", False, max_chars=_TEXT),
    Field("packages", "count", False, maximum=MAX_PACKAGES),
    Field("gross_mass_kg", "number", False, maximum=MAX_MASS_KG),
    Field("net_mass_kg", "number", True, maximum=MAX_MASS_KG),
    Field("customs_value_eur", "number", True, maximum=MAX_EUR),
    Field("duty_rate", "number", False, description="percent", maximum=MAX_PERCENT),
)

OUTCOME_FIELDS: tuple[Field, ...] = (
    Field("declaration_id", "string", True, max_chars=_ID),
    Field("inspected_at", "datetime", True),
    Field("inspection_type", "category", False, INSPECTION_TYPES, default="physical"),
    Field("selection_reason", "category", False, SELECTION_REASONS),
    Field("selection_probability", "number", False, maximum=1.0),
    Field("result", "category", True, RESULTS),
    Field("weapons_found", "bool", False),
    Field("migrants_found", "count", False, maximum=MAX_PERSONS),
    Field("revenue_irregularity", "bool", False),
    Field("additional_duty_eur", "number", False, maximum=MAX_EUR),
    Field("concealment", "string", False, max_chars=_TEXT),
    Field("notes", "string", False, max_chars=_TEXT),
)

WATCHLIST_FIELDS: tuple[Field, ...] = (
    Field("entity_type", "category", True, WATCHLIST_ENTITY_TYPES),
    Field("entity_id", "string", True, max_chars=_ID),
    Field("threat", "string", True, max_chars=_ID),
    Field("valid_from", "datetime", True),
    Field("valid_to", "datetime", False, description="open-ended when missing"),
    Field("source", "string", False, max_chars=_TEXT),
    Field("source_agency", "string", False, description="providing agency", max_chars=_ID),
    Field("source_country", "country", False, description="providing agency's country"),
    Field("handling_code", "category", False, HANDLING_CODES, default="h0"),
    Field("handling_note", "string", False, description="H3 restrictions", max_chars=_TEXT),
    Field("source_reliability", "category", False, SOURCE_RELIABILITY, default="x"),
    Field("information_accuracy", "category", False, INFORMATION_ACCURACY, default="4"),
)

DECLARATION_COLUMNS: tuple[str, ...] = tuple(f.name for f in DECLARATION_FIELDS)
OUTCOME_COLUMNS: tuple[str, ...] = tuple(f.name for f in OUTCOME_FIELDS)
WATCHLIST_COLUMNS: tuple[str, ...] = tuple(f.name for f in WATCHLIST_FIELDS)

# Labels frame produced by features.dataset.derive_labels, aligned row for row with declarations.
LABEL_PREFIX = "label_"
# Extra source columns kept as model features are renamed to EXTRA_PREFIX + a slug of their name.
EXTRA_PREFIX = "x_"


def label_column(threat: str) -> str:
    """Name of the 0/1/NaN label column of a threat in the labels frame."""
    return f"{LABEL_PREFIX}{threat}"
