"""Identifiers that look like the real ones: plates, tracking numbers, trader numbers.

Vectorised: a template is expanded for many rows at once through a byte matrix, not a Python
loop per code (bench/RESULTS.md has what that costs).
"""

from __future__ import annotations

import numpy as np

_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)  # no I, O, Q: as on plates
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def codes_from_template(rng: np.random.Generator, template: str, n: int) -> np.ndarray:
    """Draw `n` codes shaped like `template`: 'A' a letter, '9' a digit, anything else literal.

    Returns an object array of Python strings (what pandas turns into its string dtype).
    """
    width = len(template)
    chars = np.empty((n, width), dtype=np.uint8)
    for position, symbol in enumerate(template):
        if symbol == "A":
            chars[:, position] = _LETTERS[rng.integers(0, len(_LETTERS), n)]
        elif symbol == "9":
            chars[:, position] = _DIGITS[rng.integers(0, 10, n)]
        else:
            chars[:, position] = ord(symbol)
    as_bytes = chars.view(f"S{width}").ravel()
    return as_bytes.astype(str).astype(object)


def codes_by_group(
    rng: np.random.Generator,
    groups: np.ndarray,
    templates: dict[str, tuple[str, ...]],
    fallback: str,
) -> np.ndarray:
    """One code per row, drawn from the templates of the row's group (e.g. plate per country).

    Groups without a template use `fallback`; where a group has several templates each row
    picks one at random. Groups are visited in sorted order so the draw is reproducible.
    """
    out = np.empty(len(groups), dtype=object)
    for group in sorted(set(groups.tolist())):
        rows = np.flatnonzero(groups == group)
        choices = templates.get(group, (fallback,))
        pick = rng.integers(0, len(choices), len(rows))
        for index, template in enumerate(choices):
            chosen = rows[pick == index]
            out[chosen] = codes_from_template(rng, template, len(chosen))
    return out


def zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded text of `width` digits, e.g. 42 -> "000042"."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (np.asarray(numbers, dtype=np.int64)[:, None] // powers) % 10 + ord("0")
    return digits.astype(np.uint8).view(f"S{width}").ravel().astype(str).astype(object)


def scrambled(index: np.ndarray, modulus: int, salt: int) -> np.ndarray:
    """Map entity indices to distinct, random-looking numbers below `modulus`.

    Multiplication by a number coprime with the modulus is a bijection, so distinct entities
    never share a number (a collision would merge two traders' histories).
    """
    multiplier = 2_654_435_761  # odd and not a multiple of 5: coprime with powers of ten
    return (index.astype(np.int64) * multiplier + salt) % modulus


def private_ids(index: np.ndarray, family: int) -> np.ndarray:
    """Identity numbers of private persons; each family of persons has its own number range."""
    numbers = scrambled(index, 10**8, 7919 * family + 1)
    return ("P" + str(family) + zero_padded(numbers, 8)).astype(object)
