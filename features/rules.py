"""What each canonical field accepts, once, for every input path.

The field tables of `features.schema` give each field its kind, requiredness, allowed values
and caps; this module gives each kind its normalisation (HS punctuation stripped, countries
upper-cased, WCO transport-mode digits mapped, ...) and the message and fix of each way a
value can be wrong. Three validators are derived from them and agree on every value:

* `features.validation` checks whole frames (files, batch scoring), column by column;
* `features.records.canonical_records` checks the API's typed records value by value;
* :func:`pydantic_fields` gives the API's pydantic models one annotation per field, whose
  checks and OpenAPI schema (enums, patterns, ranges, lengths) come from the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from features.schema import (
    COUNTRY_CODES,
    EARLIEST_YEAR,
    LATEST_YEAR,
    TRANSPORT_MODES,
    WCO_TRANSPORT_MODE_DIGITS,
    Field,
)

# Text that spreadsheets and exports write for "no value". "NA" is deliberately absent: it is
# Namibia's country code.
MISSING_TOKENS = ("", "nan", "none", "null", "nat", "<na>", "n/a", "#n/a")

EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)
END = datetime(LATEST_YEAR + 1, 1, 1, tzinfo=UTC)  # exclusive

_ITINERARY_SEPARATORS = re.compile(r"[>\-,;/\s]+")
# A code written by a float column into text ("930510.0"): 5-10 digits then ".0".
_FLOAT_TEXT_CODE = re.compile(r"^(\d{5,10})\.0+$")
# HS notation with separators: "9305.10", "9305 10 00", "93.05.10"; groups after the first have
# at least two digits, so "9305.1" (a float that lost its trailing zero) is rejected.
_DOTTED_HS_CODE = re.compile(r"^\d{2,}(?:[.\s]+\d{2,})*$")
# What the OpenAPI schema shows for HS codes: the forms `normalize_hs_code` accepts whose digit
# count, 5 to 10 once the separators go, a pattern can state (9305.10, 9305 10 00, 93.05.10,
# 930510.0). A schema-valid value must be accepted: the API's fuzz test sends them.
HS_CODE_PATTERN = (
    r"^[0-9]{5,10}(\.0+)?$|^[0-9]{4}([. ][0-9]{2}){1,3}$|^[0-9]{2}\.[0-9]{2}(\.[0-9]{2}){1,3}$"
)
_TRANSPORT_DIGITS_PATTERN = r"^[0-9]{1,2}$"
# A required text must hold something other than blanks or a "no value" token (any case).
# Blanks as str.strip() sees them: JavaScript's \s, which JSON Schema patterns use, leaves
# out the separators U+001C-U+001F and NEL (U+0085).
_BLANK = r"[\s\u001c-\u001f\u0085]"
_SOMETHING_PATTERN = r"[^\s\u001c-\u001f\u0085]"
_MISSING_TOKEN_PATTERN = (
    f"^{_BLANK}*("
    + "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in token)
        for token in MISSING_TOKENS
        if token
    )
    + f"){_BLANK}*$"
)
# Dates whose year lies inside the accepted window whatever their UTC offset (the window's
# first and last years are left out: an offset can move their edge days across it).
_IN_WINDOW_PATTERN = (
    "^(" + "|".join(str(year) for year in range(EARLIEST_YEAR + 1, LATEST_YEAR)) + ")-"
)
_TRANSPORT_MODE_NAMES = frozenset(TRANSPORT_MODES)
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


# -- normalisation of one present value -------------------------------------------------------


def enum_word(text: str) -> str:
    """Lower-case, words joined by '_' ("Inland Water" -> "inland_water")."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def normalize_hs_code(text: str) -> str | None:
    """A 6-10 digit HS code from how spreadsheets and exports write it, or None if invalid.

    "9305.10" and "9305 10 00" lose their separators; "930510.0" (a float written as text)
    loses its ".0"; an odd number of digits (5, 7 or 9) means a leading zero was lost by an
    integer column and is put back, since nomenclatures use 6, 8 or 10 digits.
    """
    code = text.strip()
    float_text = _FLOAT_TEXT_CODE.match(code)
    if float_text:
        code = float_text.group(1)
    elif not code.isdigit():
        if not _DOTTED_HS_CODE.match(code):
            return None
        code = re.sub(r"[.\s]+", "", code)
    if not code.isascii() or not code.isdigit():
        return None
    if len(code) in (5, 7, 9):
        code = "0" + code
    if not 6 <= len(code) <= 10:
        return None
    return code


def normalize_transport_mode(text: str) -> str | None:
    """Canonical transport mode from a name or a WCO code ("3", or "30"-style national codes)."""
    word = enum_word(text)
    if word in _TRANSPORT_MODE_NAMES:
        return word
    if word.isdigit() and len(word) in (1, 2):
        return WCO_TRANSPORT_MODE_DIGITS.get(word[0])
    return None


def parse_itinerary(value: Any) -> str | None:
    """Country codes of a route as 'GR>MK>RS' from a list or a string using >, -, comma or space.

    Returns "" for an empty route and None when a code is not a known country.
    """
    parts = (
        [str(p) for p in value] if is_listlike(value) else _ITINERARY_SEPARATORS.split(str(value))
    )
    codes = [p.strip().upper() for p in parts if p.strip()]
    if any(code not in COUNTRY_CODES for code in codes):
        return None
    return ">".join(codes)


def is_listlike(value: Any) -> bool:
    """A list of codes (an itinerary sent as a JSON list or kept as one in a frame)."""
    return isinstance(value, list | tuple | np.ndarray | set | frozenset)


def yes_no(text: str) -> str | None:
    """ "1" for a yes word, "0" for a no word, None for anything else."""
    word = text.lower()
    if word in _TRUE_WORDS:
        return "1"
    return "0" if word in _FALSE_WORDS else None


def canonical_text(spec: Field, text: str) -> str | None:
    """The canonical form of a present, stripped value of a text field; None when invalid.

    An empty result ("" for an empty itinerary) means no value.
    """
    if spec.kind == "string":
        return text
    if spec.kind == "country":
        code = text.upper()
        return code if code in COUNTRY_CODES else None
    if spec.kind == "hs_code":
        return normalize_hs_code(text)
    if spec.kind == "itinerary":
        return parse_itinerary(text)
    if spec.name == "transport_mode":
        return normalize_transport_mode(text)
    word = enum_word(text)
    return word if word in spec.allowed else None


def too_long(spec: Field, text: str) -> bool:
    """Whether a stripped text is over its field's cap."""
    return spec.max_chars is not None and len(text) > spec.max_chars


def in_window(moment: datetime) -> bool:
    """Whether a datetime (naive = UTC) lies in the accepted years."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return EARLIEST <= utc < END


def number_check(spec: Field, number: float) -> Check | None:
    """What is wrong with a number given for a numeric field (None when it is accepted)."""
    if not math.isfinite(number):
        return NOT_A_NUMBER
    if number < 0:
        return negative(spec)
    if spec.maximum is not None and number > spec.maximum:
        return above_maximum(spec)
    if spec.kind == "count" and not number.is_integer():
        return NOT_WHOLE
    return None


# -- messages and fixes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One way a value can be wrong: the message, the fix, and what to add to the fix for a
    file (where the training configuration can recode or default a column)."""

    message: str
    fix: str
    file_hint: str = ""

    def file_fix(self) -> str:
        """The fix as a file's problem states it."""
        return self.fix + self.file_hint

    def api_message(self) -> str:
        """The message as the API states it (never with the value)."""
        return f"{self.message}: {self.fix}"


NOT_A_NUMBER = Check(
    "not a number",
    "write plain numbers with a dot as decimal separator and no thousands separator "
    "or currency sign, e.g. 1234.5",
)
NOT_WHOLE = Check("not a whole number", "counts must be whole numbers")
DATE_DOES_NOT_PARSE = Check(
    "date does not parse", "write dates as ISO 8601, e.g. 2024-03-01 or 2024-03-01T14:30:00+01:00"
)
DATE_OUTSIDE_WINDOW = Check(
    f"date outside {EARLIEST_YEAR}-01-01 to {LATEST_YEAR}-12-31",
    f"check the year (dates are read as UTC and must lie between {EARLIEST_YEAR} and "
    f"{LATEST_YEAR}); leave a date empty rather than writing a placeholder such as 9999-12-31",
)
NOT_YES_NO = Check("not a yes/no value", "write true/false, yes/no or 1/0 (empty = no)")


def required_empty(spec: Field) -> Check:
    """A required field with no value."""
    return Check(
        "required value is empty",
        f"fill in '{spec.name}'",
        f" on every row, or set source.defaults.{spec.name} in the configuration",
    )


def negative(spec: Field) -> Check:
    """A number below 0."""
    return Check("negative value", f"'{spec.name}' must be 0 or more")


def above_maximum(spec: Field) -> Check:
    """A number above its field's cap."""
    if spec.name == "selection_probability":
        return Check(
            "probability above 1",
            "give the selection probability as a fraction between 0 and 1 (e.g. 0.05 for 5%)",
        )
    return Check(
        f"value above {spec.maximum:,.0f}",
        f"'{spec.name}' must be at most {spec.maximum:,.0f}: check the unit and the decimal "
        "separator",
    )


def too_long_check(spec: Field) -> Check:
    """A text over its field's cap."""
    return Check(
        f"longer than {spec.max_chars} characters",
        f"shorten '{spec.name}' to at most {spec.max_chars} characters",
    )


def value_check(spec: Field) -> Check:
    """A present value of a text field that `canonical_text` refuses."""
    if spec.kind == "country":
        return Check(
            "unknown country code",
            "use ISO 3166-1 alpha-2 codes (e.g. RS, MK, DE), XK for Kosovo or ZZ when unknown",
            f"; recode names or national codes in source.values.{spec.name}",
        )
    if spec.kind == "hs_code":
        return Check(
            "bad HS code (need 6 to 10 digits)",
            "write HS codes as text of 6 to 10 digits, e.g. 930510 or 9305.10",
            " (keep leading zeros: format the column as text in the spreadsheet)",
        )
    if spec.kind == "itinerary":
        return Check(
            "unknown country code in itinerary",
            "list ISO 3166-1 alpha-2 codes (XK for Kosovo) separated by '>', e.g. GR>MK>RS",
        )
    if spec.name == "transport_mode":
        return Check(
            "unknown transport mode",
            f"use one of {', '.join(spec.allowed)} or a WCO code digit 1-9 (two-digit national "
            "codes such as '30' are read by their first digit)",
            "; recode other national codes in source.values.transport_mode",
        )
    return Check(
        f"unknown {spec.name.replace('_', ' ')}",
        f"use one of {', '.join(spec.allowed)}",
        f", or recode source values in source.values.{spec.name}",
    )


# -- the API's pydantic fields ----------------------------------------------------------------


class PydanticRule:
    """Annotation metadata making a pydantic field check and document one canonical field.

    Used as ``Annotated[str | None, rule]`` (the annotated type says what JSON may carry).
    Text is stripped and made canonical, a missing token is no value (the default, or
    refused when the field is required), numbers are bounded as the rule says, with NaN as
    no value, and dates must lie in the accepted years. Error messages never hold the value.
    """

    def __init__(self, spec: Field) -> None:
        self.spec = spec

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        spec = self.spec
        if spec.kind in ("number", "count"):
            bound = float(spec.maximum) if spec.maximum is not None else None
            number: CoreSchema = (
                core_schema.int_schema(ge=0, le=None if bound is None else int(bound))
                if spec.kind == "count"
                else core_schema.float_schema(ge=0, le=bound, allow_inf_nan=False)
            )
            inner = number if spec.required else core_schema.nullable_schema(number)
            return core_schema.no_info_before_validator_function(_nan_is_missing, inner)
        if spec.kind == "datetime":
            return core_schema.no_info_after_validator_function(self._moment, handler(source))
        if spec.kind == "bool":
            return core_schema.no_info_before_validator_function(self._flag, handler(source))
        return core_schema.no_info_after_validator_function(self._text, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        text = json_schema(self.spec)
        if text is None:
            return handler(schema)
        return text if self.spec.required else {"anyOf": [text, {"type": "null"}]}

    def _text(self, value: Any) -> str | None:
        spec = self.spec
        text = None
        if value is not None:
            joined = ">".join(map(str, value)) if is_listlike(value) else str(value)
            stripped = joined.strip()
            if stripped.lower() not in MISSING_TOKENS:
                text = stripped
        if text is not None:
            if too_long(spec, text):
                raise ValueError(too_long_check(spec).api_message())
            canonical = canonical_text(spec, text)
            if canonical is None:
                raise ValueError(value_check(spec).api_message())
            text = canonical or None
        if text is None:
            if spec.default is not None:
                return spec.default
            if spec.required:
                raise ValueError(required_empty(spec).api_message())
        return text

    def _moment(self, value: datetime | None) -> datetime | None:
        if value is not None and not in_window(value):
            raise ValueError(DATE_OUTSIDE_WINDOW.api_message())
        return value

    def _flag(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.lower() in MISSING_TOKENS:
            return None
        word = yes_no(text)
        if word is None:
            raise ValueError(NOT_YES_NO.api_message())
        return word == "1"


def _nan_is_missing(value: Any) -> Any:
    """NaN is no value, as in a frame (a file cannot tell them apart)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def json_schema(spec: Field) -> JsonSchemaValue | None:
    """The OpenAPI schema of a present value of a field (None when pydantic's own is exact).

    It admits only values the rule accepts (the API's fuzz test holds it to that), so some
    accepted forms go unlisted: enumerations list the canonical values (any letter case is
    accepted), dates show the years inside the window whatever the offset, HS codes the
    common notations. Countries list every accepted code.
    """
    countries = {"type": "string", "enum": sorted(COUNTRY_CODES)}
    length = {} if spec.max_chars is None else {"maxLength": spec.max_chars}
    if spec.kind == "string":
        if not spec.required:
            return {"type": "string", **length}
        return {
            "type": "string",
            **length,
            "pattern": _SOMETHING_PATTERN,
            "not": {"pattern": _MISSING_TOKEN_PATTERN},
        }
    if spec.kind == "datetime":
        return {"type": "string", "format": "date-time", "pattern": _IN_WINDOW_PATTERN}
    if spec.kind == "country":
        return countries
    if spec.kind == "hs_code":
        return {"type": "string", "pattern": HS_CODE_PATTERN}
    if spec.kind == "itinerary":
        code = "(" + "|".join(sorted(COUNTRY_CODES)) + ")"
        # Codes joined by ">" must fit the cap: two letters each, one separator between.
        most = ((spec.max_chars or 0) + 1) // 3 or None
        return {
            "anyOf": [
                {"type": "array", "items": countries, **({"maxItems": most} if most else {})},
                {"type": "string", **length, "pattern": f"^({code}(>{code})*)?$"},
            ]
        }
    if spec.name == "transport_mode":
        return {
            "anyOf": [
                {"type": "string", "enum": list(spec.allowed)},
                {"type": "string", "pattern": _TRANSPORT_DIGITS_PATTERN},
            ]
        }
    if spec.kind == "category":
        return {"type": "string", "enum": list(spec.allowed)}
    return None


def pydantic_fields(fields: Sequence[Field]) -> dict[str, PydanticRule]:
    """One :class:`PydanticRule` per field, by name, for a model's ``Annotated`` fields."""
    return {spec.name: PydanticRule(spec) for spec in fields}
