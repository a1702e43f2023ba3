"""Finding every pair of binary codes within a Hamming radius, and clustering pairs.

The search is multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with
multi-index hashing", CVPR 2012): split the B-bit codes into m substrings; two codes within
distance r agree to within ``r // m`` bits on at least one substring (pigeonhole). So for each
substring table, each code probes the buckets of every key within ``r // m`` bits of its own, and
only the codes found there are compared in full. Buckets are a dense count/offset table over the
substring's 2^L keys, so a probe is a vectorised gather over all codes at once: no Python loop
over pairs, and the work grows with the number of near pairs rather than with N^2.

m is chosen per call from a cost model (probes times expected bucket size), because the best
split depends on N and r: 105-bit codes searched at radius 23 among 100k codes used 6 tables of
17-18 bits and 988 probes each (21.7 s on one core; 5, 7 and 8 tables took 69, 50 and 26 s).
The dedup stage's 144-bit codes at radius 34 (``candidate_radius`` 0.24) use 9 tables of 16 bits
and 697 probes each; 100k signatures cluster end to end in 26 s on 2 cores (benchmarks/dedup.py).
Tables are searched in parallel threads: numpy releases the GIL in the gathers and compares.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_MAX_KEY_BITS = 22   # a dense table of 4M int64 offsets per substring at most
_VERIFY_COST = 1.5   # a candidate costs about this many probe-gathers (expand + full compare),
#                      measured on 100k random 105-bit codes at radius 23 for m = 5..8


def pack_words(bits: np.ndarray) -> np.ndarray:
    """(n, B) booleans -> (n, ceil(B / 64)) uint64 words, for fast full comparisons."""
    n, width = bits.shape
    padded = np.zeros((n, math.ceil(width / 64) * 64), dtype=bool)
    padded[:, :width] = bits
    return np.packbits(padded, axis=1, bitorder="little").view("<u8")


def hamming(words: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Hamming distances between rows i and j of packed codes."""
    return np.bitwise_count(words[i] ^ words[j]).sum(axis=1, dtype=np.int64)


def _probes(length: int, radius: int) -> int:
    return sum(math.comb(length, i) for i in range(radius + 1))


def plan_tables(n: int, bits: int, radius: int) -> int:
    """The number of substrings m with the lowest expected cost for n codes."""
    best, best_cost = None, math.inf
    for m in range(1, bits + 1):
        length = math.ceil(bits / m)
        if length > _MAX_KEY_BITS:
            continue
        probes = _probes(length, radius // m)
        cost = m * probes * (1 + _VERIFY_COST * n / 2**length)
        if cost < best_cost:
            best, best_cost = m, cost
    return best or bits


def _masks(length: int, radius: int) -> np.ndarray:
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in combo) for combo in itertools.combinations(range(length), r)]
    return np.array(masks, dtype=np.int64)


def _search_table(codes: np.ndarray, words: np.ndarray, lo: int, hi: int, radius: int,
                  sub_radius: int) -> np.ndarray:
    """Pairs (as i * n + j) within ``radius`` that agree to ``sub_radius`` bits on bits lo:hi."""
    n = len(codes)
    keys = codes[:, lo:hi].astype(np.int64) @ (1 << np.arange(hi - lo, dtype=np.int64))
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=1 << (hi - lo))
    offsets = np.cumsum(counts) - counts
    found = [np.empty(0, np.int64)]
    for mask in _masks(hi - lo, sub_radius):
        query = keys ^ mask
        hits = counts[query]
        who = np.flatnonzero(hits)
        if not len(who):
            continue
        sizes = hits[who]
        i = np.repeat(who, sizes)
        within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        j = order[np.repeat(offsets[query[who]], sizes) + within]
        keep = i < j
        i, j = i[keep], j[keep]
        close = hamming(words, i, j) <= radius
        found.append(i[close] * n + j[close])
    return np.unique(np.concatenate(found))


def near_pairs(codes: np.ndarray, radius: int, *, workers: int = 1) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Every pair i < j of rows of ``codes`` within ``radius`` bits of each other.

    Args:
        codes: (n, B) booleans.
        radius: maximum Hamming distance, in bits.
        workers: threads searching the substring tables.

    Returns:
        ``pairs`` (p, 2) int64 sorted by (i, j), and their distances (p,) int64.
    """
    n, bits = codes.shape
    if n < 2:
        return np.empty((0, 2), np.int64), np.empty(0, np.int64)
    words = pack_words(codes)
    m = plan_tables(n, bits, radius)
    bounds = np.linspace(0, bits, m + 1).round().astype(int)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = list(pool.map(lambda b: _search_table(codes, words, b[0], b[1], radius,
                                                      radius // m),
                              itertools.pairwise(bounds)))
    flat = np.unique(np.concatenate(found))
    pairs = np.stack([flat // n, flat % n], axis=1)
    return pairs, hamming(words, pairs[:, 0], pairs[:, 1])


def brute_force_pairs(codes: np.ndarray, radius: int) -> np.ndarray:
    """The same pairs as :func:`near_pairs` by comparing all of them (for tests and benchmarks)."""
    words = pack_words(codes)
    i, j = np.triu_indices(len(codes), k=1)
    close = hamming(words, i, j) <= radius
    return np.stack([i[close], j[close]], axis=1).astype(np.int64)


def components(n: int, pairs) -> tuple[np.ndarray, list[list[int]]]:
    """Connected components of the graph on 0..n-1 whose edges are ``pairs`` (scipy's).

    Args:
        n: number of nodes.
        pairs: (p, 2) node indices, or an iterable of (a, b).

    Returns:
        Each node's component label (n,), and the components with at least two members, each
        sorted, ordered by their smallest member.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.asarray(pairs if isinstance(pairs, np.ndarray) else list(pairs),
                       dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges), bool), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for node, label in enumerate(labels.tolist()):  # ascending nodes: each list comes sorted
        members.setdefault(label, []).append(node)
    groups = sorted((g for g in members.values() if len(g) > 1), key=lambda g: g[0])
    return labels, groups
