"""Exact TreeSHAP for LightGBM boosters, several times faster than ``pred_contrib``.

LightGBM's own TreeSHAP (``Tree::TreeSHAP`` in its src/io/tree.cpp) walks every root-to-leaf
path for every row, extending and unwinding a polynomial over the path's unique features:
``O(leaves x depth^2)`` per tree and row. Almost all of that work does not depend on the row.

For a leaf ``l`` with value ``v``, let ``P`` be the unique features on its path, ``d = |P|``,
and for each ``k`` in ``P`` let ``z_k`` be the product of the data-count ratios
(child count / node count) of the path's splits on ``k`` (LightGBM's "zero fraction"). For a
row, ``A`` is the set of features in ``P`` whose every split on the path the row follows (the
"one fraction" is 1) and ``U = P \\ A`` the others. With the Shapley weights
``w(s) = s! (d - s - 1)! / d!`` and ``E(B) = sum over S within B of w(|S|) prod_{k in B \\ S} z_k``,
the leaf adds

    to each k in A:   v * Z(U) * (1 - z_k) * E(A \\ {k})
    to each k in U:  -v * Z(U) * E(A)              (the same amount for every such feature)

where ``Z(U) = prod_{k in U} z_k``. ``E`` and ``v * Z`` depend only on the leaf and a subset
of ``P``, so they are tabulated once per booster for every subset (the FastTreeSHAP-v2 idea,
``2^d`` entries per leaf). Per row, one pass over a tree's internal nodes (parents before
children, as LightGBM numbers them) gives each leaf's ``U`` as a bit mask, then each leaf
costs ``d`` table reads: ``O(leaves x depth)`` per tree and row. For leaves with at most
``FULL_DEPTH`` unique features the ``d`` amounts themselves are tabulated per mask (``d 2^d``
values: a read and an add per feature, no arithmetic). Leaves deeper than ``TABLE_DEPTH``
unique features are computed directly from the same formula with the elementary symmetric
polynomials of ``z`` (``O(d^2)``), so deep trees stay exact with bounded memory.

The cost per row is then a few memory reads per node and per leaf feature, so the kernel
takes rows ``ROW_BLOCK`` at a time, tree by tree, with the rows innermost: each node's
feature, threshold and children (each leaf's table) are read once for the block, and the row
loops compile to vector code (about 5x faster than one row at a time on the same tables).

Splits are decided exactly as LightGBM's ``NumericalDecision``/``CategoricalDecision`` do it
(missing types None/Zero/NaN, default-left, categorical bitsets, NaN and negatives right), on
the text model's 17-digit thresholds. The kernel is numba-compiled and ``nogil``: rows are
split into chunks run on at most ``num_threads`` threads. Its machine code is cached next to
this file, or in the user's cache directory when the package is read-only (``CACHE`` is
False, and each process compiles, only when no cache directory is writable). Boosters it
does not cover (linear trees, several trees per iteration, random-forest averaging, paths of
more than ``MAX_DEPTH`` unique features) are reported by ``TreeShap.from_booster`` returning
``None``; callers then use ``pred_contrib``.
"""

from __future__ import annotations

import itertools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import lightgbm as lgb
import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["FULL_DEPTH", "TABLE_DEPTH", "TreeShap"]

TABLE_DEPTH = 10  # leaves with more unique path features are computed without tables
FULL_DEPTH = 6  # leaves with at most this many have whole contributions tabled (d * 2^d values)
MAX_DEPTH = 62  # outside masks are int64: a booster with longer paths is left to pred_contrib
ZERO_THRESHOLD = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float literal)
MIN_ROWS_PER_THREAD = 64  # below this a second thread costs more than it saves
ROW_BLOCK = 256  # rows explained together, tree by tree (one node or leaf read for them all)

_CATEGORICAL = 1
_DEFAULT_LEFT = 2


def _probe() -> None:
    """Nothing: compiled only to ask numba whether this file's machine code can be cached."""


def _cache_usable() -> bool:
    """Whether numba finds a writable cache directory for this file.

    Next to the source (a fresh clone), else under the user's cache directory or
    ``NUMBA_CACHE_DIR`` (a read-only install). With none, numba would refuse to decorate at
    import; the kernel then compiles in each process instead.
    """
    try:
        numba.njit(cache=True)(_probe)
    except RuntimeError:
        return False
    return True


CACHE = _cache_usable()


@dataclass(frozen=True)
class _Trees:
    """A booster's trees as flat arrays (internal nodes and leaves numbered per booster)."""

    num_features: int
    base_value: float  # sum of the trees' expected values (LightGBM's ExpectedValue)
    tree_nodes: NDArray[np.int64]  # (trees + 1,) first internal node of each tree
    tree_leaves: NDArray[np.int64]  # (trees + 1,) first leaf of each tree
    feature: NDArray[np.int32]  # per internal node
    threshold: NDArray[np.float64]
    decision: NDArray[np.int32]  # LightGBM decision_type
    cat_start: NDArray[np.int32]  # categorical nodes: their bitset in cat_bits
    cat_len: NDArray[np.int32]
    cat_bits: NDArray[np.uint32]
    left: NDArray[np.int32]  # child within the tree: >= 0 internal node, ~leaf otherwise
    right: NDArray[np.int32]
    node_count: NDArray[np.float64]
    leaf_value: NDArray[np.float64]
    leaf_count: NDArray[np.float64]


def _floats(line: str) -> NDArray[np.float64]:
    return np.array(line.split(), dtype=np.float64) if line else np.zeros(0)


def _ints(line: str) -> NDArray[np.int64]:
    return np.array(line.split(), dtype=np.int64) if line else np.zeros(0, dtype=np.int64)


def _parse(model: str) -> _Trees | None:
    """The trees of a LightGBM text model, or None for a model this kernel does not cover."""
    header, _, body = model.partition("\nTree=")
    head = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    if (
        head.get("num_tree_per_iteration", "1") != "1"
        or "average_output" in header.splitlines()
        or "max_feature_idx" not in head
    ):
        return None
    blocks = ("Tree=" + body).split("\nTree=") if body else []
    blocks = [block.split("end of trees", 1)[0] for block in blocks]
    features: list[NDArray[np.int64]] = []
    thresholds: list[NDArray[np.float64]] = []
    decisions: list[NDArray[np.int64]] = []
    cat_starts: list[NDArray[np.int64]] = []
    cat_lens: list[NDArray[np.int64]] = []
    cat_bits: list[NDArray[np.int64]] = []
    lefts: list[NDArray[np.int64]] = []
    rights: list[NDArray[np.int64]] = []
    counts: list[NDArray[np.float64]] = []
    values: list[NDArray[np.float64]] = []
    leaf_counts: list[NDArray[np.float64]] = []
    tree_nodes, tree_leaves = [0], [0]
    base = 0.0
    bits_so_far = 0
    for block in blocks:
        tree = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if tree.get("is_linear", "0") != "0":
            return None
        leaf_value = _floats(tree["leaf_value"])
        num_leaves = int(tree["num_leaves"])
        if num_leaves <= 1:
            base += float(leaf_value[0])
            tree_nodes.append(tree_nodes[-1])
            tree_leaves.append(tree_leaves[-1])
            continue
        leaf_count = _floats(tree["leaf_count"])
        internal_count = _floats(tree["internal_count"])
        base += float(np.sum(leaf_count / internal_count[0] * leaf_value))
        decision = _ints(tree["decision_type"])
        threshold = _floats(tree["threshold"])
        start = np.zeros(num_leaves - 1, dtype=np.int64)
        length = np.zeros(num_leaves - 1, dtype=np.int64)
        if int(tree.get("num_cat", "0")) > 0:
            bounds = _ints(tree["cat_boundaries"])
            bits = _ints(tree["cat_threshold"])
            categorical = (decision & _CATEGORICAL) != 0
            index = threshold[categorical].astype(np.int64)
            start[categorical] = bits_so_far + bounds[index]
            length[categorical] = bounds[index + 1] - bounds[index]
            cat_bits.append(bits)
            bits_so_far += len(bits)
        features.append(_ints(tree["split_feature"]))
        thresholds.append(threshold)
        decisions.append(decision)
        cat_starts.append(start)
        cat_lens.append(length)
        lefts.append(_ints(tree["left_child"]))
        rights.append(_ints(tree["right_child"]))
        counts.append(internal_count)
        values.append(leaf_value)
        leaf_counts.append(leaf_count)
        tree_nodes.append(tree_nodes[-1] + num_leaves - 1)
        tree_leaves.append(tree_leaves[-1] + num_leaves)

    def join(parts: list[NDArray], dtype: type) -> NDArray:  # type: ignore[type-arg]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return _Trees(
        num_features=int(head["max_feature_idx"]) + 1,
        base_value=base,
        tree_nodes=np.array(tree_nodes, dtype=np.int64),
        tree_leaves=np.array(tree_leaves, dtype=np.int64),
        feature=join(features, np.int32),
        threshold=join(thresholds, np.float64),
        decision=join(decisions, np.int32),
        cat_start=join(cat_starts, np.int32),
        cat_len=join(cat_lens, np.int32),
        cat_bits=join(cat_bits, np.uint32),
        left=join(lefts, np.int32),
        right=join(rights, np.int32),
        node_count=join(counts, np.float64),
        leaf_value=join(values, np.float64),
        leaf_count=join(leaf_counts, np.float64),
    )


# -- precomputation (once per booster) ----------------------------------------------------


@numba.njit(cache=CACHE, nogil=True)
def _paths(tree_nodes, tree_leaves, feature, left, right, node_count, leaf_count, max_depth):  # type: ignore[no-untyped-def]
    """Each leaf's unique path features with their zero fractions, and each node's bit.

    Returns (leaf_depth, leaf_features (leaves x max_depth), leaf_zero (leaves x max_depth),
    node_bit): a node's bit is the position of its feature among the unique features of
    its own path from the root, which is a prefix of every path below it.
    """
    n_trees = len(tree_nodes) - 1
    n_leaves = tree_leaves[-1]
    leaf_depth = np.zeros(n_leaves, dtype=np.int32)
    leaf_features = np.full((n_leaves, max_depth), -1, dtype=np.int32)
    leaf_zero = np.ones((n_leaves, max_depth), dtype=np.float64)
    node_bit = np.zeros(len(feature), dtype=np.int32)
    # per internal node of the current tree: its path's unique features and zero fractions
    for t in range(n_trees):
        n0, n1 = tree_nodes[t], tree_nodes[t + 1]
        l0 = tree_leaves[t]
        if n1 == n0:
            continue
        size = n1 - n0
        depth = np.zeros(size, dtype=np.int32)  # unique features on the path to the node
        feats = np.full((size, max_depth), -1, dtype=np.int32)
        zero = np.ones((size, max_depth), dtype=np.float64)
        for local in range(size):  # parents come before their children
            node = n0 + local
            f = feature[node]
            d = depth[local]
            bit = d
            for k in range(d):
                if feats[local, k] == f:
                    bit = k
                    break
            node_bit[node] = bit
            for side in range(2):
                child = left[node] if side == 0 else right[node]
                count = node_count[n0 + child] if child >= 0 else leaf_count[l0 + ~child]
                ratio = count / node_count[node]
                child_depth = d + 1 if bit == d else d
                if child >= 0:
                    depth[child] = child_depth
                    feats[child, :] = feats[local, :]
                    zero[child, :] = zero[local, :]
                    feats[child, bit] = f
                    zero[child, bit] *= ratio
                else:
                    leaf = l0 + ~child
                    leaf_depth[leaf] = child_depth
                    leaf_features[leaf, :] = feats[local, :]
                    leaf_zero[leaf, :] = zero[local, :]
                    leaf_features[leaf, bit] = f
                    leaf_zero[leaf, bit] *= ratio
    return leaf_depth, leaf_features, leaf_zero, node_bit


@numba.njit(cache=CACHE, nogil=True)
def _shapley_weights(d):  # type: ignore[no-untyped-def]
    """w(s) = s! (d - s - 1)! / d! for s = 0 .. d - 1."""
    w = np.zeros(max(d, 1), dtype=np.float64)
    for s in range(d):
        w[s] = math.exp(math.lgamma(s + 1) + math.lgamma(d - s) - math.lgamma(d + 1))
    return w


@numba.njit(cache=CACHE, nogil=True)
def _tables(leaf_depth, leaf_zero, leaf_value, table_start, table_depth):  # type: ignore[no-untyped-def]
    """E(B) and v * Z(B) for every subset B (a bit mask) of each shallow leaf's path features."""
    total = table_start[-1]
    e_table = np.zeros(total, dtype=np.float64)
    vz_table = np.zeros(total, dtype=np.float64)
    poly = np.zeros((1 << table_depth, table_depth + 1), dtype=np.float64)
    for leaf in range(len(leaf_depth)):
        d = leaf_depth[leaf]
        if d > table_depth or d == 0:
            continue
        base = table_start[leaf]
        w = _shapley_weights(d)
        poly[0, 0] = 1.0
        vz_table[base] = leaf_value[leaf]
        e_table[base] = w[0]
        for mask in range(1, 1 << d):
            low = 0
            while not (mask >> low) & 1:
                low += 1
            rest = mask ^ (1 << low)
            z = leaf_zero[leaf, low]
            vz_table[base + mask] = vz_table[base + rest] * z
            # prod over B of (1 + z_k t): coefficients are elementary symmetric polynomials
            size = 0
            poly[mask, 0] = 1.0
            for k in range(1, d + 1):
                poly[mask, k] = poly[rest, k] + z * poly[rest, k - 1]
            for k in range(d):
                size += (mask >> k) & 1
            e = 0.0
            for s in range(size + 1):
                if s < d:
                    e += w[s] * poly[mask, size - s]
            e_table[base + mask] = e
    return e_table, vz_table


@numba.njit(cache=CACHE, nogil=True)
def _full_tables(leaf_depth, leaf_zero, table_start, e_table, vz_table, full_depth):  # type: ignore[no-untyped-def]
    """Each shallow leaf's whole contribution for every outside mask: ``d`` values per mask.

    Entry ``full_start[leaf] + outside * d + k`` is what the leaf adds to its k-th path
    feature, the two cases of the module doc already chosen and multiplied out.
    """
    n_leaves = len(leaf_depth)
    full_start = np.full(n_leaves, -1, dtype=np.int64)
    total = 0
    for leaf in range(n_leaves):
        d = leaf_depth[leaf]
        if 0 < d <= full_depth and table_start[leaf] >= 0:
            full_start[leaf] = total
            total += (1 << d) * d
    table = np.zeros(total, dtype=np.float64)
    for leaf in range(n_leaves):
        at = full_start[leaf]
        if at < 0:
            continue
        d = leaf_depth[leaf]
        base = table_start[leaf]
        full = (1 << d) - 1
        for outside in range(1 << d):
            inside = full ^ outside
            vz = vz_table[base + outside]
            against = -vz * e_table[base + inside]
            for k in range(d):
                if (outside >> k) & 1:
                    table[at + outside * d + k] = against
                else:
                    own = vz * (1.0 - leaf_zero[leaf, k]) * e_table[base + (inside ^ (1 << k))]
                    table[at + outside * d + k] = own
    return full_start, table


# -- per row ------------------------------------------------------------------------------


@numba.njit(cache=CACHE, nogil=True, inline="always")
def _goes_left(value, decision, threshold, cat_start, cat_len, cat_bits):  # type: ignore[no-untyped-def]
    """LightGBM's NumericalDecision / CategoricalDecision on a double feature value."""
    if decision & _CATEGORICAL:
        if math.isnan(value) or value >= 2147483648.0 or value <= -1.0:
            return False  # NaN, negative (and int overflow, negative in C) go right
        category = int(value)
        word = category >> 5
        if word >= cat_len:
            return False
        return (cat_bits[cat_start + word] >> np.uint32(category & 31)) & np.uint32(1) != 0
    missing = (decision >> 2) & 3
    if math.isnan(value):
        if missing == 2:
            return (decision & _DEFAULT_LEFT) != 0
        value = 0.0
    elif -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:
        value = 0.0  # the predictor never sees values this small: they are zeros
    if missing == 1 and value == 0.0:
        return (decision & _DEFAULT_LEFT) != 0
    return value <= threshold


@numba.njit(cache=CACHE, nogil=True)
def _direct(phi, row, d, features, zero, value, outside, scratch, inner):  # type: ignore[no-untyped-def]
    """One deep leaf's contributions to ``phi[:, row]`` without tables (same formula, O(d^2))."""
    w = _shapley_weights(d)
    vz = value
    size = 0
    for k in range(d):
        if (outside >> k) & 1:
            vz *= zero[k]
        else:
            size += 1
    # elementary symmetric polynomials of z over A
    scratch[: d + 1] = 0.0
    scratch[0] = 1.0
    for k in range(d):
        if not (outside >> k) & 1:
            z = zero[k]
            for m in range(d, 0, -1):
                scratch[m] += z * scratch[m - 1]
    e_all = 0.0
    for s in range(size + 1):
        if s < d:
            e_all += w[s] * scratch[size - s]
    for k in range(d):
        if (outside >> k) & 1:
            phi[features[k], row] -= vz * e_all
        else:
            z = zero[k]  # divide the polynomial by (1 + z t): the set A without k
            inner[0] = 1.0
            for m in range(1, size):
                inner[m] = scratch[m] - z * inner[m - 1]
            e = 0.0
            for s in range(size):
                e += w[s] * inner[size - 1 - s]
            phi[features[k], row] += vz * (1.0 - z) * e


@numba.njit(cache=CACHE, nogil=True)
def _rows(  # type: ignore[no-untyped-def]
    X,
    out,
    start,
    stop,
    tree_nodes,
    tree_leaves,
    feature,
    threshold,
    decision,
    special,
    cat_start,
    cat_len,
    cat_bits,
    slot_left,
    slot_right,
    node_bit,
    leaf_depth,
    leaf_features,
    leaf_zero,
    leaf_value,
    table_start,
    e_table,
    vz_table,
    full_start,
    full_table,
    max_nodes,
    max_depth,
):
    """SHAP contributions of rows ``start:stop`` of X, added into ``out`` (features only).

    Rows go in blocks of ``ROW_BLOCK``, trees one by one inside a block, and every step loops
    over the block's rows innermost: a node's feature, threshold and children, or a leaf's
    table, are read once for all the rows, and the row loops compile to vector code. Values
    are laid out feature-major for the block (``value[f, row]``), with each value's missing
    class (1 NaN, 2 zero, NaN counting as zero too) so that a numerical split is
    ``default_left if flags & special else value <= threshold`` without branches.
    """
    n_features = X.shape[1]
    block_rows = max(1, min(ROW_BLOCK, stop - start))
    masks = np.empty((2 * max_nodes + 1, block_rows), dtype=np.int64)  # nodes, then leaves
    raw = np.empty((n_features, block_rows), dtype=np.float64)
    value = np.empty((n_features, block_rows), dtype=np.float64)
    flags = np.empty((n_features, block_rows), dtype=np.int64)
    phi = np.empty((n_features, block_rows), dtype=np.float64)
    scratch = np.zeros(max_depth + 1, dtype=np.float64)
    inner = np.zeros(max_depth + 1, dtype=np.float64)
    for block in range(start, stop, block_rows):
        rows = min(block_rows, stop - block)
        for r in range(rows):
            for f in range(n_features):
                v = X[block + r, f]
                raw[f, r] = v
                flag = 0
                if math.isnan(v):
                    v = 0.0  # as NumericalDecision does unless the split sends NaN its own way
                    flag = 1
                if -ZERO_THRESHOLD <= v <= ZERO_THRESHOLD:
                    v = 0.0  # the predictor never sees values this small: they are zeros
                    flag |= 2
                value[f, r] = v
                flags[f, r] = flag
        phi[:, :rows] = 0.0
        for t in range(len(tree_nodes) - 1):
            n0, n1 = tree_nodes[t], tree_nodes[t + 1]
            if n1 == n0:
                continue
            l0, l1 = tree_leaves[t], tree_leaves[t + 1]
            masks[0, :rows] = 0
            for node in range(n0, n1):
                here = node - n0
                f = feature[node]
                bit = np.int64(1) << node_bit[node]
                to_left, to_right = slot_left[node], slot_right[node]
                # go is 1 (left) or 0: the bit joins the mask of the side the row does not take
                if decision[node] & _CATEGORICAL:
                    for r in range(rows):
                        go = np.int64(
                            _goes_left(
                                raw[f, r],
                                _CATEGORICAL,
                                0.0,
                                cat_start[node],
                                cat_len[node],
                                cat_bits,
                            )
                        )
                        mask = masks[here, r]
                        masks[to_left, r] = mask | (bit & (go - 1))
                        masks[to_right, r] = mask | (bit & -go)
                else:
                    cases = special[node]
                    default = np.int64((decision[node] & _DEFAULT_LEFT) != 0)
                    limit = threshold[node]
                    for r in range(rows):
                        go = default if flags[f, r] & cases else np.int64(value[f, r] <= limit)
                        mask = masks[here, r]
                        masks[to_left, r] = mask | (bit & (go - 1))
                        masks[to_right, r] = mask | (bit & -go)
            leaf_slot = n1 - n0 - l0
            for leaf in range(l0, l1):
                slot = leaf_slot + leaf
                d = leaf_depth[leaf]
                at = full_start[leaf]
                if at >= 0:
                    for k in range(d):
                        f = leaf_features[leaf, k]
                        for r in range(rows):
                            phi[f, r] += full_table[at + masks[slot, r] * d + k]
                    continue
                base = table_start[leaf]
                if base < 0:
                    for r in range(rows):
                        _direct(
                            phi,
                            r,
                            d,
                            leaf_features[leaf],
                            leaf_zero[leaf],
                            leaf_value[leaf],
                            masks[slot, r],
                            scratch,
                            inner,
                        )
                    continue
                full = (np.int64(1) << d) - 1
                for k in range(d):
                    f = leaf_features[leaf, k]
                    one = np.int64(1) << k
                    keep = 1.0 - leaf_zero[leaf, k]
                    for r in range(rows):
                        outside = masks[slot, r]
                        inside = full ^ outside
                        vz = vz_table[base + outside]
                        if outside & one:
                            phi[f, r] -= vz * e_table[base + inside]
                        else:
                            phi[f, r] += vz * keep * e_table[base + (inside ^ one)]
        for r in range(rows):
            for f in range(n_features):
                out[block + r, f] += phi[f, r]


_POOL_LOCK = threading.Lock()
_POOL: list[ThreadPoolExecutor] = []


def _pool(workers: int) -> ThreadPoolExecutor:
    """One shared pool per process, sized to the machine's cores (chunks never exceed it)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="treeshap"))
        return _POOL[0]


@dataclass(frozen=True)
class TreeShap:
    """A booster's trees with the per-leaf tables; ``contributions`` equals ``pred_contrib``."""

    trees: _Trees
    node_bit: NDArray[np.int32]
    special: NDArray[np.int32]  # per numerical node: the missing classes sent the default way
    slot_left: NDArray[np.int32]  # per node: its children's mask slots (leaves after nodes)
    slot_right: NDArray[np.int32]
    leaf_depth: NDArray[np.int32]
    leaf_features: NDArray[np.int32]
    leaf_zero: NDArray[np.float64]
    table_start: NDArray[np.int64]  # per leaf, -1 when it is computed directly
    e_table: NDArray[np.float64]
    vz_table: NDArray[np.float64]
    full_start: NDArray[np.int64]  # per leaf, -1 when it does not use the whole-contribution table
    full_table: NDArray[np.float64]
    max_nodes: int
    max_depth: int

    @property
    def num_features(self) -> int:
        return self.trees.num_features

    @property
    def base_value(self) -> float:
        return self.trees.base_value

    @classmethod
    def from_booster(
        cls,
        booster: lgb.Booster,
        *,
        table_depth: int = TABLE_DEPTH,
        full_depth: int = FULL_DEPTH,
    ) -> TreeShap | None:
        """Precompute a booster's tables; None when the booster is not covered (see module doc).

        The trees are those ``booster.predict`` uses by default (the best iteration if set).
        Leaves with at most ``full_depth`` unique path features (and at most ``table_depth``)
        use whole-contribution tables, others up to ``table_depth`` the E and v * Z tables,
        deeper ones the direct formula.
        """
        return cls.from_model_string(
            booster.model_to_string(), table_depth=table_depth, full_depth=full_depth
        )

    @classmethod
    def from_model_string(
        cls, model: str, *, table_depth: int = TABLE_DEPTH, full_depth: int = FULL_DEPTH
    ) -> TreeShap | None:
        """As ``from_booster``, from a LightGBM text model."""
        trees = _parse(model)
        if trees is None:
            return None
        sizes = np.diff(trees.tree_nodes)
        max_nodes = int(sizes.max()) if len(sizes) else 0
        max_depth = max(1, max_nodes)  # a path has at most as many unique features as nodes
        leaf_depth, leaf_features, leaf_zero, node_bit = _paths(
            trees.tree_nodes,
            trees.tree_leaves,
            trees.feature,
            trees.left,
            trees.right,
            trees.node_count,
            trees.leaf_count,
            max_depth,
        )
        max_depth = max(1, int(leaf_depth.max()) if len(leaf_depth) else 1)
        if max_depth > MAX_DEPTH:
            return None
        leaf_features = np.ascontiguousarray(leaf_features[:, :max_depth])
        leaf_zero = np.ascontiguousarray(leaf_zero[:, :max_depth])
        tabled = leaf_depth <= table_depth
        sizes_ = np.where(tabled, 1 << np.minimum(leaf_depth, table_depth), 0).astype(np.int64)
        table_start = np.zeros(len(leaf_depth) + 1, dtype=np.int64)
        np.cumsum(sizes_, out=table_start[1:])
        e_table, vz_table = _tables(
            leaf_depth, leaf_zero, trees.leaf_value, table_start, min(table_depth, max_depth)
        )
        starts = np.where(tabled, table_start[:-1], -1).astype(np.int64)
        full_start, full_table = _full_tables(
            leaf_depth, leaf_zero, starts, e_table, vz_table, min(full_depth, table_depth)
        )
        tree_size = np.repeat(sizes, sizes)  # per node: its tree's internal node count
        missing = (trees.decision >> 2) & 3
        return cls(
            trees=trees,
            node_bit=node_bit,
            special=np.select([missing == 2, missing == 1], [1, 2], 0).astype(np.int32),
            slot_left=np.where(trees.left >= 0, trees.left, tree_size + ~trees.left).astype(
                np.int32
            ),
            slot_right=np.where(trees.right >= 0, trees.right, tree_size + ~trees.right).astype(
                np.int32
            ),
            leaf_depth=leaf_depth,
            leaf_features=leaf_features,
            leaf_zero=leaf_zero,
            table_start=np.append(starts, table_start[-1]),
            e_table=e_table,
            vz_table=vz_table,
            full_start=full_start,
            full_table=full_table,
            max_nodes=max_nodes,
            max_depth=max_depth,
        )

    def _run(self, X: NDArray[np.float64], out: NDArray[np.float64], start: int, stop: int) -> None:
        t = self.trees
        _rows(
            X,
            out,
            start,
            stop,
            t.tree_nodes,
            t.tree_leaves,
            t.feature,
            t.threshold,
            t.decision,
            self.special,
            t.cat_start,
            t.cat_len,
            t.cat_bits,
            self.slot_left,
            self.slot_right,
            self.node_bit,
            self.leaf_depth,
            self.leaf_features,
            self.leaf_zero,
            t.leaf_value,
            self.table_start,
            self.e_table,
            self.vz_table,
            self.full_start,
            self.full_table,
            self.max_nodes,
            self.max_depth,
        )

    def contributions(
        self, matrix: NDArray[np.float64], *, num_threads: int = 1, pool_size: int = 1
    ) -> NDArray[np.float64]:
        """Contributions ``(rows, features + 1)``, base value last: ``pred_contrib``'s layout.

        Rows are split into at most ``num_threads`` chunks of at least ``MIN_ROWS_PER_THREAD``;
        ``pool_size`` bounds the shared pool's threads (the machine's cores).
        """
        X = np.ascontiguousarray(matrix, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.num_features:
            raise ValueError(
                f"expected a (rows, {self.num_features}) matrix, got shape {np.shape(matrix)}"
            )
        rows = X.shape[0]
        out = np.zeros((rows, self.num_features + 1), dtype=np.float64)
        out[:, -1] = self.base_value
        chunks = max(1, min(int(num_threads), rows // MIN_ROWS_PER_THREAD))
        if chunks == 1:
            self._run(X, out, 0, rows)
            return out
        bounds = np.linspace(0, rows, chunks + 1).astype(int)
        pool = _pool(max(pool_size, chunks))
        futures = [
            pool.submit(self._run, X, out, int(a), int(b))
            for a, b in itertools.pairwise(bounds[1:])
        ]
        self._run(X, out, 0, int(bounds[1]))  # the caller's thread takes the first chunk
        for future in futures:
            future.result()
        return out
