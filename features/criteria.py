"""The criteria language of risk profiles: a typed tree over canonical fields, never ``eval``.

A criterion is one of the operators below (a pydantic discriminated union on ``op``):

=================  ==============================================================
``equals``         a text field equals a value (ids compared as normalised ids)
``in``             a text field is one of a list of values
``hs_prefix``      the HS code starts with one of the prefixes (digits only)
``itinerary``      a country is on the route (itinerary, dispatch or destination)
``range``          a number lies in [min, max]: value_per_kg, masses, packages, value
``keywords``       the description holds any/all words or phrases (``pist*`` a prefix)
``regex``          the description matches a bounded regular expression
``watchlist``      a watchlist entry of an entity type (and threat) hit the declaration
``office``         the declaration was lodged at one of the offices
``all``/``any``    every / at least one of ``of``
``not``            ``criterion`` does not hold
=================  ==============================================================

Descriptions, keywords and patterns meet after `features.normalise.normalised_text`, the
spelling every text feature reads, so "pištolj", "pistolj" and "пиштољ" are one word.

Regular expressions (Python ``re`` has no time limit): a pattern is at most
`MAX_PATTERN_CHARS` long, parsed once when the profile is checked (and compiled once per
profile set), and refused when it could backtrack badly: no repeat inside a repeat, no
alternation inside a repeat, no backreference or look-around, at most ONE open-ended repeat
(``*``, ``+``, ``{n,}`` or a bound above `MAX_SHORT_REPEAT`: two of them, as in ``.*a.*b``,
took 14 s on one 2,000-character description), and short repeats (``?``, ``{2,4}``) whose
choices multiply to at most `MAX_SHORT_CHOICES` (`MAX_CHOICES_WITH_LONG` beside an
open-ended one). What is left is at worst quadratic in the text, so a pattern reads the first
`PATTERN_TEXT_CHARS` characters of the normalised description: about 10 ms for the worst
accepted pattern on a hostile 500-character description, remembered per distinct text.
(No linear-time engine such as RE2 is installed; keywords have no such cost.)

`features.criteria_matching.compile_criteria` evaluates many profiles' trees for a whole batch
at once; this module is the language and its checks only.
"""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.normalise import TOKEN_PATTERN, normalised_text
from features.schema import WATCHLIST_ENTITY_TYPES

MAX_DEPTH = 8  # nesting of all / any / not
MAX_NODES = 200  # operators in one profile's criteria
MAX_VALUES = 1000  # values of one list
MAX_PATTERN_CHARS = 200
MAX_SHORT_REPEAT = 10  # a repeat bounded by this is "short" ({2,4}, ?)
MAX_SHORT_CHOICES = 64  # product of the short repeats' choices
MAX_CHOICES_WITH_LONG = 4  # the same, beside an open-ended repeat
PATTERN_TEXT_CHARS = 500  # a pattern reads this much of the normalised description
MAX_PHRASE_WORDS = 6

TEXT_FIELDS = (
    "office_id",
    "flow",
    "procedure_code",
    "transport_mode",
    "vehicle_id",
    "vehicle_type",
    "declarant_id",
    "importer_id",
    "exporter_id",
    "carrier_id",
    "origin_country",
    "dispatch_country",
    "destination_country",
    "hs_code",
)
NUMBER_FIELDS = (
    "value_per_kg",
    "gross_mass_kg",
    "net_mass_kg",
    "packages",
    "customs_value_eur",
    "duty_rate",
)
TextField = Literal[TEXT_FIELDS]  # type: ignore[valid-type]
NumberField = Literal[NUMBER_FIELDS]  # type: ignore[valid-type]
EntityType = Literal[WATCHLIST_ENTITY_TYPES]  # type: ignore[valid-type]

Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Operator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Equals(_Operator):
    """``field`` equals ``value`` (case, spacing ignored)."""

    op: Literal["equals"]
    field: TextField
    value: Text


class InList(_Operator):
    """``field`` is one of ``values``."""

    op: Literal["in"]
    field: TextField
    values: list[Text] = Field(min_length=1, max_length=MAX_VALUES)


class HsPrefix(_Operator):
    """The HS code starts with one of ``prefixes`` (2 to 10 digits)."""

    op: Literal["hs_prefix"]
    prefixes: list[Annotated[str, Field(pattern=r"^[0-9]{2,10}$")]] = Field(
        min_length=1, max_length=MAX_VALUES
    )


class Itinerary(_Operator):
    """One of ``countries`` (ISO alpha-2) is on the route: itinerary, dispatch or destination."""

    op: Literal["itinerary"]
    countries: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(
        min_length=1, max_length=MAX_VALUES
    )


class NumberRange(_Operator):
    """``min <= field <= max`` (either bound may be left out, not both); missing never matches."""

    op: Literal["range"]
    field: NumberField
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> NumberRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Keywords(_Operator):
    """The description holds ``any`` (or ``all``) of ``words``: words or phrases, a trailing
    ``*`` matching any ending ("pištol*" matches "pištolj", "pistolji")."""

    op: Literal["keywords"]
    words: list[Text] = Field(min_length=1, max_length=MAX_VALUES)
    match: Literal["any", "all"] = "any"

    @field_validator("words")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        for word in words:
            tokens, _ = keyword_tokens(word)
            if not tokens:
                raise ValueError(f"{word!r} has no word of two or more letters or digits")
            if len(tokens) > MAX_PHRASE_WORDS:
                raise ValueError(f"{word!r} has more than {MAX_PHRASE_WORDS} words")
        return words


class Pattern(_Operator):
    """The normalised description matches ``pattern`` (a bounded regular expression, searched
    case-insensitively anywhere in the text)."""

    op: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_CHARS)

    @field_validator("pattern")
    @classmethod
    def _safe(cls, pattern: str) -> str:
        check_pattern(pattern)
        return pattern


class WatchlistHit(_Operator):
    """A watchlist entry of ``entity_type`` (for ``threat`` when given) hit the declaration."""

    op: Literal["watchlist"]
    entity_type: EntityType
    threat: Text | None = None


class Office(_Operator):
    """The declaration was lodged at one of ``offices``."""

    op: Literal["office"]
    offices: list[Text] = Field(min_length=1, max_length=MAX_VALUES)


class AllOf(_Operator):
    """Every criterion of ``of`` holds."""

    op: Literal["all"]
    of: list[Criterion] = Field(min_length=1, max_length=50)


class AnyOf(_Operator):
    """At least one criterion of ``of`` holds."""

    op: Literal["any"]
    of: list[Criterion] = Field(min_length=1, max_length=50)


class Not(_Operator):
    """``criterion`` does not hold."""

    op: Literal["not"]
    criterion: Criterion


Criterion = Annotated[
    Equals
    | InList
    | HsPrefix
    | Itinerary
    | NumberRange
    | Keywords
    | Pattern
    | WatchlistHit
    | Office
    | AllOf
    | AnyOf
    | Not,
    Field(discriminator="op"),
]
for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


def check_shape(raw: Any) -> Any:
    """Refuse criteria nested deeper than `MAX_DEPTH` or with more than `MAX_NODES` operators,
    before validation walks them (iteratively: a hostile body cannot exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(raw, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        nodes += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"criteria nest deeper than {MAX_DEPTH} levels")
        if nodes > MAX_NODES:
            raise ValueError(f"criteria hold more than {MAX_NODES} operators")
        children = node.get("of")
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in children)
        if "criterion" in node:
            stack.append((node["criterion"], depth + 1))
    return raw


# -- regular expressions: the safe subset -------------------------------------------------------

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}
_REFUSED = {
    sre_constants.GROUPREF: "a backreference",
    sre_constants.GROUPREF_EXISTS: "a conditional group",
    sre_constants.ASSERT: "a look-ahead or look-behind",
    sre_constants.ASSERT_NOT: "a negative look-ahead or look-behind",
}


def check_pattern(pattern: str) -> None:
    """Raise ValueError unless ``pattern`` is in the safe subset (see the module docstring)."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as error:
        raise ValueError(f"not a regular expression: {error}") from None
    long_repeats = 0
    short_choices = 1
    for op, argument, inside_repeat in _walk(parsed, False):
        if op in _REFUSED:
            raise ValueError(f"the pattern uses {_REFUSED[op]}, which is not allowed")
        if op in _REPEATS:
            low, high, _ = argument
            if inside_repeat:
                raise ValueError("a repeat inside a repeat can backtrack without end")
            if high == sre_constants.MAXREPEAT or high > MAX_SHORT_REPEAT:
                long_repeats += 1
            else:
                short_choices *= high - low + 1
        if op == sre_constants.BRANCH and inside_repeat:
            raise ValueError("an alternation inside a repeat can backtrack without end")
    if long_repeats > 1:
        raise ValueError(
            f"more than one open-ended repeat (*, +, or a bound above {MAX_SHORT_REPEAT}): "
            "two of them can take seconds on one description"
        )
    if short_choices > (MAX_CHOICES_WITH_LONG if long_repeats else MAX_SHORT_CHOICES):
        raise ValueError("too many optional or bounded repeats together")


def _walk(parsed: Any, inside: bool) -> Iterator[tuple[Any, Any, bool]]:
    for op, argument in parsed:
        yield op, argument, inside
        if op in _REPEATS:
            yield from _walk(argument[2], True)
        elif op == sre_constants.SUBPATTERN:
            yield from _walk(argument[3], inside)
        elif op == sre_constants.BRANCH:
            for branch in argument[1]:
                yield from _walk(branch, inside)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            yield from _walk(argument[1], inside)


def keyword_tokens(word: str) -> tuple[tuple[str, ...], bool]:
    """A keyword's normalised words, and whether its last word is a prefix (trailing ``*``)."""
    prefix = word.rstrip().endswith("*")
    tokens = tuple(re.findall(TOKEN_PATTERN, normalised_text(word.rstrip().rstrip("*"))))
    return tokens, prefix
