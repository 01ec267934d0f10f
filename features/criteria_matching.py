"""Many risk profiles' criteria (`features.criteria`) evaluated for a whole batch at once.

`compile_criteria` turns many profiles' trees into one `CompiledCriteria` evaluated for a
whole batch at once: every leaf of every profile is a column of a boolean matrix, filled per
operator kind by dictionary lookups of the batch's distinct values, and the combinators are
evaluated level by level with ``reduceat``, so the cost grows with the number of distinct
values and of tree levels, not with profiles times declarations in Python.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.columns import DeclarationColumns, normalised_id, per_distinct
from features.criteria import (
    PATTERN_TEXT_CHARS,
    AllOf,
    AnyOf,
    Equals,
    HsPrefix,
    InList,
    Itinerary,
    Keywords,
    Not,
    NumberRange,
    Office,
    Pattern,
    WatchlistHit,
    keyword_tokens,
)
from features.normalise import TOKEN_PATTERN, normalised_text
from features.route import itinerary_countries
from features.watchlist import WatchlistHits

BLOCK_ROWS = 2048  # rows evaluated together: bounds the leaf matrix's memory
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
