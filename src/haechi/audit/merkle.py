"""RFC 6962 Merkle trees: leaf and node hashing, roots, inclusion and consistency proofs.

Hashes follow Certificate Transparency (RFC 6962 §2.1): a leaf is
SHA-256(0x00 ‖ entry), an interior node SHA-256(0x01 ‖ left ‖ right), and the tree of
n leaves splits at the largest power of two below n. Proof verification follows the
algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 ‖ entry)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


class CompactRange:
    """The right edge of a tree: one root per perfect subtree, enough to keep appending.

    Appending costs O(1) hashes amortised; the root of the tree so far costs
    O(log n). Its state (``size`` and ``hashes``) is what a signed tree head keeps so
    that the tree can grow after the leaves before it are pruned.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()):
        if len(hashes) != bin(size).count("1"):
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        hashes = self.hashes
        node = leaf
        size = self.size
        # Merge while the lowest subtree is as big as the new one.
        while size & 1:
            node = _sha256(b"\x01" + hashes.pop() + node).digest()
            size >>= 1
        hashes.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add several leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The RFC 6962 root of the leaves so far."""
        if not self.hashes:
            return EMPTY_ROOT
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = _sha256(b"\x01" + left + node).digest()
        return node

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self.size, list(self.hashes))

    def encode(self) -> bytes:
        """The hashes, concatenated (the size is stored beside them)."""
        return b"".join(self.hashes)

    @classmethod
    def decode(cls, size: int, data: bytes) -> CompactRange:
        """Rebuild from :meth:`encode` output."""
        return cls(size, [data[i : i + 32] for i in range(0, len(data), 32)])


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


LeafGetter = Callable[[int, int], list[bytes]]


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root of a whole list of leaf hashes."""
    compact = CompactRange()
    compact.extend(leaves)
    return compact.root()


def _subtree_root(get: LeafGetter, start: int, end: int) -> bytes:
    return root_of(get(start, end))


def inclusion_proof(index: int, size: int, get: LeafGetter) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves.

    ``get(start, end)`` returns the leaf hashes in [start, end).
    """
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            path.append(_subtree_root(get, start + k, end))
            end = start + k
        else:
            path.append(_subtree_root(get, start, start + k))
            start = start + k
    path.reverse()
    return path


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree with ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    node = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root


def consistency_proof(old: int, new: int, get: LeafGetter) -> list[bytes]:
    """The proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
    if not 0 < old <= new:
        raise ValueError("a consistency proof needs 0 < old <= new")
    if old == new:
        return []
    return _subproof(old, 0, new, True, get)


def _subproof(m: int, start: int, end: int, complete: bool, get: LeafGetter) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [_subtree_root(get, start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, complete, get), _subtree_root(get, start + k, end)]
    return [*_subproof(m - k, start + k, end, False, get), _subtree_root(get, start, start + k)]


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the ``old``-leaf tree is a prefix of the ``new``-leaf tree."""
    if old <= 0 or old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is itself on the path
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
