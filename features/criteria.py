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

`compile_criteria` turns many profiles' trees into one `CompiledCriteria` evaluated for a
whole batch at once: every leaf of every profile is a column of a boolean matrix, filled per
operator kind by dictionary lookups of the batch's distinct values, and the combinators are
evaluated level by level with ``reduceat``, so the cost grows with the number of distinct
values and of tree levels, not with profiles times declarations in Python.
"""

from __future__ import annotations

import functools
import re
import re._constants as sre_constants
import re._parser as sre_parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.columns import DeclarationColumns, normalised_id, per_distinct
from features.normalise import TOKEN_PATTERN, normalised_text
from features.route import itinerary_countries
from features.schema import WATCHLIST_ENTITY_TYPES
from features.watchlist import WatchlistHits

MAX_DEPTH = 8  # nesting of all / any / not
MAX_NODES = 200  # operators in one profile's criteria
MAX_VALUES = 1000  # values of one list
MAX_PATTERN_CHARS = 200
MAX_SHORT_REPEAT = 10  # a repeat bounded by this is "short" ({2,4}, ?)
MAX_SHORT_CHOICES = 64  # product of the short repeats' choices
MAX_CHOICES_WITH_LONG = 4  # the same, beside an open-ended repeat
PATTERN_TEXT_CHARS = 500  # a pattern reads this much of the normalised description
MAX_PHRASE_WORDS = 6
BLOCK_ROWS = 2048  # rows evaluated together: bounds the leaf matrix's memory

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


def description_tokens(text: str) -> list[str]:
    """The normalised words of a description, as the text features split it."""
    return re.findall(TOKEN_PATTERN, normalised_text(text))


# -- compiling many profiles' criteria into one batch evaluation --------------------------------

_EMPTY = np.array([], dtype=np.int64)


@dataclass
class _Lookup:
    """Keys to the leaf columns they make true."""

    table: dict[Any, list[int]] = field(default_factory=dict)

    def add(self, key: Any, node: int) -> None:
        self.table.setdefault(key, []).append(node)

    def frozen(self) -> dict[Any, np.ndarray]:
        return {key: np.array(nodes, dtype=np.int64) for key, nodes in self.table.items()}


@dataclass
class CompiledCriteria:
    """Many profiles' criteria as one evaluation (see the module docstring).

    ``roots[p]`` is the column holding profile ``p``'s answer.
    """

    nodes: int
    roots: np.ndarray
    by_field: dict[str, dict[Any, np.ndarray]]
    hs_prefixes: dict[str, np.ndarray]
    hs_lengths: list[int]
    countries: dict[str, np.ndarray]
    watchlist: dict[str, np.ndarray]
    ranges: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # nodes, low, high
    # by first word: each distinct phrase (words, last one a prefix) once, with its leaves
    phrases: dict[str, dict[tuple[tuple[str, ...], bool], list[int]]]
    prefixes: dict[str, list[int]]  # one-word prefixes ("pist*")
    prefix_lengths: list[int]  # their lengths, ascending
    patterns: dict[str, tuple[re.Pattern[str], list[int]]]  # each distinct pattern once
    levels: list[tuple[str, np.ndarray, np.ndarray]]  # kind, nodes, children (nodes x arity)
    _texts: dict[str, np.ndarray] = field(default_factory=dict)

    def evaluate(self, columns: DeclarationColumns, hits: WatchlistHits) -> np.ndarray:
        """Which profile's criteria each declaration meets: bool (declarations, profiles)."""
        rows = len(columns)
        answer = np.zeros((rows, len(self.roots)), dtype=bool)
        if rows == 0 or len(self.roots) == 0:
            return answer
        pairs = self._leaf_pairs(columns, hits)
        numbers = {name: _numbers(columns, name) for name in self.ranges}
        for start in range(0, rows, BLOCK_ROWS):
            stop = min(rows, start + BLOCK_ROWS)
            # one row per leaf or combinator, one column per declaration: every gather
            # below copies whole contiguous rows
            values = np.zeros((self.nodes, stop - start), dtype=bool)
            for row_ids, node_ids in pairs:
                if rows <= BLOCK_ROWS:  # one block: every pair is in it
                    values[node_ids, row_ids] = True
                    continue
                chosen = (row_ids >= start) & (row_ids < stop)
                values[node_ids[chosen], row_ids[chosen] - start] = True
            for name, (nodes, low, high) in self.ranges.items():
                x = numbers[name][None, start:stop]
                with np.errstate(invalid="ignore"):
                    values[nodes] = (x >= low[:, None]) & (x <= high[:, None])
            for kind, nodes, children in self.levels:
                # combinators of one kind and arity at one height: one gather per child slot
                combined = values[children[:, 0]]
                for slot in range(1, children.shape[1]):
                    if kind == "all":
                        combined &= values[children[:, slot]]
                    else:
                        combined |= values[children[:, slot]]
                values[nodes] = ~combined if kind == "not" else combined
            answer[start:stop] = values[self.roots].T
        return answer

    def _leaf_pairs(
        self, columns: DeclarationColumns, hits: WatchlistHits
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(row, leaf column) of every looked-up leaf that holds."""
        pairs = []
        every = np.arange(len(columns), dtype=np.int64)
        for name, table in self.by_field.items():
            pairs.append(_looked_up(every, columns.ids(name), table))
        if self.hs_prefixes:
            digits = per_distinct(columns.strings("hs_code"), _digits)
            for length in self.hs_lengths:
                keys = per_distinct(digits, functools.partial(_hs_prefix, length=length))
                pairs.append(_looked_up(every, keys, self.hs_prefixes))
        if self.countries:
            pairs.append(_looked_up(*_route_countries(columns), self.countries))
        if self.watchlist and len(hits.rows):
            types = hits.entity_types.astype(str)
            threats = hits.threats.astype(str)
            rows = np.concatenate([hits.rows, hits.rows])
            keys = np.concatenate([types, np.char.add(np.char.add(types, "\x1f"), threats)])
            pairs.append(_looked_up(rows, keys.astype(object), self.watchlist))
        if self.phrases or self.prefixes or self.patterns:
            texts = columns.strings("goods_description")
            found = [self._text_nodes(text) for text in texts.tolist()]
            lengths = np.fromiter((len(nodes) for nodes in found), dtype=np.int64, count=len(found))
            if lengths.any():
                pairs.append((np.repeat(every, lengths), np.concatenate(found)))
        return pairs

    def _text_nodes(self, text: str | None) -> np.ndarray:
        """The keyword and pattern leaves a description meets (remembered per text)."""
        if text is None:
            return _EMPTY
        known = self._texts.get(text)
        if known is not None:
            return known
        normal = normalised_text(text)
        tokens = re.findall(TOKEN_PATTERN, normal)
        met: set[int] = set()
        for position, token in enumerate(tokens):
            for (phrase, prefix), nodes in self.phrases.get(token, {}).items():
                if _holds_phrase(tokens, position, phrase, prefix):
                    met.update(nodes)
            for length in self.prefix_lengths:
                if length > len(token):
                    break
                met.update(self.prefixes.get(token[:length], ()))
        head = normal[:PATTERN_TEXT_CHARS]
        for pattern, nodes in self.patterns.values():
            if pattern.search(head):
                met.update(nodes)
        found = np.array(sorted(met), dtype=np.int64)
        if len(self._texts) >= 100_000:  # a bound on memory: start again
            self._texts.clear()
        self._texts[text] = found
        return found


def _holds_phrase(tokens: list[str], start: int, phrase: tuple[str, ...], prefix: bool) -> bool:
    """Whether ``phrase`` (its first word already equal) is at ``start`` of ``tokens``."""
    window = tokens[start : start + len(phrase)]
    if len(window) < len(phrase) or window[:-1] != list(phrase[:-1]):
        return False
    return window[-1].startswith(phrase[-1]) if prefix else window[-1] == phrase[-1]


def _hs_prefix(code: str, length: int) -> str | None:
    return code[:length] if len(code) >= length else None


def _digits(code: str) -> str:
    return "".join(character for character in code if character.isdigit())


def _numbers(columns: DeclarationColumns, name: str) -> np.ndarray:
    if name == "value_per_kg":
        return columns.derived("criteria_value_per_kg", lambda: _value_per_kg(columns))
    return columns.numbers(name)


def _value_per_kg(columns: DeclarationColumns) -> np.ndarray:
    mass = columns.numbers("net_mass_kg")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mass > 0, columns.numbers("customs_value_eur") / mass, np.nan)


def _route_countries(columns: DeclarationColumns) -> tuple[np.ndarray, np.ndarray]:
    rows: list[int] = []
    keys: list[str] = []
    dispatch = columns.strings("dispatch_country").tolist()
    destination = columns.strings("destination_country").tolist()
    for row, route in enumerate(itinerary_countries(columns)):
        met = {*(route or ()), dispatch[row], destination[row]} - {None}
        rows.extend([row] * len(met))
        keys.extend(str(country).upper() for country in met)
    return np.array(rows, dtype=np.int64), np.array(keys, dtype=object)


def _looked_up(
    rows: np.ndarray, keys: np.ndarray, table: dict[Any, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(row, leaf) for every row whose key the table lists, without a Python loop over rows."""
    found = [table.get(key, _EMPTY) for key in keys.tolist()]
    lengths = np.fromiter((len(nodes) for nodes in found), dtype=np.int64, count=len(found))
    if not lengths.any():
        return _EMPTY, _EMPTY
    return np.repeat(rows, lengths), np.concatenate(found)


class _Compiler:
    def __init__(self) -> None:
        self.count = 0
        self.by_field: dict[str, _Lookup] = {}
        self.hs = _Lookup()
        self.countries = _Lookup()
        self.watchlist = _Lookup()
        self.ranges: dict[str, list[tuple[int, float, float]]] = {}
        self.phrases: dict[str, dict[tuple[tuple[str, ...], bool], list[int]]] = {}
        self.prefixes: dict[str, list[int]] = {}
        self.patterns: dict[str, tuple[re.Pattern[str], list[int]]] = {}
        # height -> kind -> [(node, children)]
        self.combinators: dict[int, dict[str, list[tuple[int, list[int]]]]] = {}

    def node(self) -> int:
        self.count += 1
        return self.count - 1

    def add(self, criterion: Any) -> tuple[int, int]:
        """The column of ``criterion`` and its height (leaves 0)."""
        if isinstance(criterion, AllOf | AnyOf):
            children = [self.add(child) for child in criterion.of]
            return self._combine(criterion.op, [c for c, _ in children], children)
        if isinstance(criterion, Not):
            child = self.add(criterion.criterion)
            return self._combine("not", [child[0]], [child])
        if isinstance(criterion, Keywords):
            leaves = [self._phrase(word) for word in criterion.words]
            if len(leaves) == 1:
                return leaves[0], 0
            return self._combine(criterion.match, leaves, [(leaf, 0) for leaf in leaves])
        node = self.node()
        if isinstance(criterion, Equals):
            self._field(criterion.field).add(normalised_id(criterion.value), node)
        elif isinstance(criterion, InList):
            for value in dict.fromkeys(normalised_id(v) for v in criterion.values):
                self._field(criterion.field).add(value, node)
        elif isinstance(criterion, Office):
            for value in dict.fromkeys(normalised_id(v) for v in criterion.offices):
                self._field("office_id").add(value, node)
        elif isinstance(criterion, HsPrefix):
            for prefix in dict.fromkeys(criterion.prefixes):
                self.hs.add(prefix, node)
        elif isinstance(criterion, Itinerary):
            for country in dict.fromkeys(c.upper() for c in criterion.countries):
                self.countries.add(country, node)
        elif isinstance(criterion, NumberRange):
            low = -np.inf if criterion.min is None else criterion.min
            high = np.inf if criterion.max is None else criterion.max
            self.ranges.setdefault(criterion.field, []).append((node, low, high))
        elif isinstance(criterion, Pattern):
            compiled = self.patterns.get(criterion.pattern)
            if compiled is None:
                compiled = self.patterns[criterion.pattern] = (
                    re.compile(criterion.pattern, re.IGNORECASE),
                    [],
                )
            compiled[1].append(node)
        elif isinstance(criterion, WatchlistHit):
            key = criterion.entity_type
            if criterion.threat is not None:
                key = f"{key}\x1f{criterion.threat}"
            self.watchlist.add(key, node)
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown criterion {type(criterion).__name__}")
        return node, 0

    def _field(self, name: str) -> _Lookup:
        return self.by_field.setdefault(name, _Lookup())

    def _phrase(self, word: str) -> int:
        node = self.node()
        tokens, prefix = keyword_tokens(word)
        if prefix and len(tokens) == 1:
            self.prefixes.setdefault(tokens[0], []).append(node)
        else:
            self.phrases.setdefault(tokens[0], {}).setdefault((tokens, prefix), []).append(node)
        return node

    def _combine(
        self, kind: str, columns: list[int], children: list[tuple[int, int]]
    ) -> tuple[int, int]:
        node = self.node()
        height = 1 + max(h for _, h in children)
        self.combinators.setdefault(height, {}).setdefault(kind, []).append((node, columns))
        return node, height

    def levels(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Combinators grouped by height (children first), kind and arity."""
        out: list[tuple[str, np.ndarray, np.ndarray]] = []
        for height in sorted(self.combinators):
            for kind, entries in self.combinators[height].items():
                by_arity: dict[int, list[tuple[int, list[int]]]] = {}
                for node, slots in entries:
                    by_arity.setdefault(len(slots), []).append((node, slots))
                for group in by_arity.values():
                    nodes = np.array([node for node, _ in group], dtype=np.int64)
                    children = np.array([slots for _, slots in group], dtype=np.int64)
                    out.append((kind, nodes, children))
        return out


def compile_criteria(trees: Sequence[Any]) -> CompiledCriteria:
    """One evaluation of every tree of ``trees`` (validated criteria), in that order."""
    compiler = _Compiler()
    roots = np.array([compiler.add(tree)[0] for tree in trees], dtype=np.int64)
    ranges = {
        name: (
            np.array([n for n, _, _ in entries], dtype=np.int64),
            np.array([low for _, low, _ in entries], dtype=np.float64),
            np.array([high for _, _, high in entries], dtype=np.float64),
        )
        for name, entries in compiler.ranges.items()
    }
    hs = compiler.hs.frozen()
    return CompiledCriteria(
        nodes=compiler.count,
        roots=roots,
        by_field={name: lookup.frozen() for name, lookup in compiler.by_field.items()},
        hs_prefixes=hs,
        hs_lengths=sorted({len(prefix) for prefix in hs}),
        countries=compiler.countries.frozen(),
        watchlist=compiler.watchlist.frozen(),
        ranges=ranges,
        phrases=compiler.phrases,
        prefixes=compiler.prefixes,
        prefix_lengths=sorted({len(prefix) for prefix in compiler.prefixes}),
        patterns=compiler.patterns,
        levels=compiler.levels(),
    )
