"""Random streams whose output is fixed by the seed on every platform and release.

Every random step in :mod:`effekt.design` reads raw 64-bit words from the
generator's bit generator (``Generator.bit_generator.random_raw``) and turns
them into assignments with arithmetic coded here. Nothing goes through
``Generator.permutation``, ``choice``, ``shuffle`` or ``integers``: numpy's
policy on random streams (NEP 19) keeps a bit generator's raw output fixed for
a given seed, but reserves the right to change the algorithms of the
``Generator`` methods that transform it. PCG64 (the bit generator
:func:`effekt.data.check_seed` builds from an integer seed, seeded through
``SeedSequence``) is a fixed algorithm, so its words, and therefore every
assignment effekt derives from them, are the same everywhere.

The two transformations used:

* a **uniform** on ``[0, 1)``: the top 53 bits of a word times ``2**-53``
  (exact in float64);
* a **random order**: the units sorted by one word each (ties, with
  probability about ``n**2 / 2**65``, fall back to input order).

Per-batch seeds of a lottery are derived from the master seed and the batch
identifier by SHA-256 (:func:`derive_seed`), so a batch's draw does not depend
on which batches came before it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

__all__ = ["raw", "uniforms", "random_order", "derive_seed"]

_TWO_POW_MINUS_53 = 2.0**-53


def raw(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` raw 64-bit words of ``rng``'s bit generator (uint64)."""
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    return np.asarray(rng.bit_generator.random_raw(n), dtype=np.uint64)


def uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniforms on [0, 1): ``(word >> 11) * 2**-53``."""
    return (raw(rng, n) >> np.uint64(11)).astype(np.float64) * _TWO_POW_MINUS_53


def random_order(keys: np.ndarray, groups: np.ndarray | None = None, n_groups: int | None = None) -> np.ndarray:
    """Indices sorting units by group, and by their random key within a group.

    The result is always ``np.lexsort((keys, groups))``: by group, then by
    key, ties in the key broken by input order. It is computed faster than
    that: each unit's group code, the top bits of its key and its index are
    packed into one 64-bit word, and the words are sorted by value (numpy's
    vectorised sort; the order of distinct values does not depend on the
    algorithm). Units whose group and key bits tie are then put in
    ``(key, index)`` order, which restores the exact lexsort order.
    """
    n = keys.size
    G = 1 if groups is None else int(n_groups if n_groups is not None else (groups.max() + 1 if n else 1))
    gbits = 0 if groups is None else max(1, (G - 1).bit_length())
    ibits = max(1, (n - 1).bit_length())
    kbits = 64 - gbits - ibits
    if kbits < 8:  # too many units and groups to pack: the plain two-pass sort
        order = np.argsort(keys, kind="stable")
        return order if groups is None else order[np.argsort(groups[order], kind="stable")]
    word = (keys >> np.uint64(64 - kbits)) << np.uint64(ibits)
    word |= np.arange(n, dtype=np.uint64)
    if groups is not None:
        word |= groups.astype(np.uint64) << np.uint64(64 - gbits)
    word.sort()
    order = (word & np.uint64((1 << ibits) - 1)).astype(np.intp)
    head = word >> np.uint64(ibits)
    tie = head[1:] == head[:-1]
    if tie.any():
        run = np.concatenate(([0], np.cumsum(~tie)))
        at = np.flatnonzero(np.concatenate((tie, [False])) | np.concatenate(([False], tie)))
        units = order[at]
        order[at] = units[np.lexsort((units, keys[units], run[at]))]
    return order


def derive_seed(master: int, *parts: Any) -> int:
    """A 128-bit seed from a master seed and identifying parts (batch id, ...).

    ``int(sha256(json([master, *parts])))`` truncated to 128 bits: the same
    master seed and batch identifier always give the same batch seed, and
    different batches get unrelated streams.

    >>> derive_seed(42, "2017-01-16") == derive_seed(42, "2017-01-16")
    True
    >>> derive_seed(42, "a") != derive_seed(42, "b")
    True
    """
    text = json.dumps([int(master), *[str(p) for p in parts]], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")
