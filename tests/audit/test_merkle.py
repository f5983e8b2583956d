"""RFC 6962 hashing, checked against the RFC's recursive definitions."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haechi.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 §2.1 defines it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def leaves_of(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def getter(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    return lambda start, end: leaves[start:end]


def test_hash_prefixes() -> None:
    """It prefixes leaves with 0x00 and nodes with 0x01."""
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root_of([]) == EMPTY_ROOT


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100])
def test_compact_range_root_matches_the_definition(n: int) -> None:
    """It computes the same root as the recursive definition, at every size."""
    leaves = leaves_of(n)
    compact = CompactRange()
    for size, leaf in enumerate(leaves, start=1):
        compact.append(leaf)
        assert compact.root() == mth(leaves[:size])


def test_compact_range_survives_encoding() -> None:
    """It resumes from its encoded form and keeps producing the same roots."""
    leaves = leaves_of(37)
    compact = CompactRange()
    compact.extend(leaves[:21])
    resumed = CompactRange.decode(21, compact.encode())
    resumed.extend(leaves[21:])
    assert resumed.root() == mth(leaves)


@given(st.integers(min_value=1, max_value=70), st.data())
def test_inclusion_proofs_verify(n: int, data: st.DataObject) -> None:
    """It proves every leaf's inclusion, and a proof fails for another leaf or root."""
    leaves = leaves_of(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(index, n, getter(leaves))
    root = mth(leaves)
    assert verify_inclusion(index, n, leaves[index], proof, root)
    assert not verify_inclusion(index, n, leaf_hash(b"forged"), proof, root)
    if n > 1:
        assert not verify_inclusion((index + 1) % n, n, leaves[index], proof, root)


@given(st.integers(min_value=1, max_value=70), st.data())
def test_consistency_proofs_verify(n: int, data: st.DataObject) -> None:
    """It proves every older tree a prefix of a newer one, and rejects a rewritten one."""
    leaves = leaves_of(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = consistency_proof(m, n, getter(leaves))
    assert verify_consistency(m, n, mth(leaves[:m]), mth(leaves), proof)
    rewritten = [leaf_hash(b"rewritten"), *leaves[1:]]
    if m < n:
        assert not verify_consistency(m, n, mth(rewritten[:m]), mth(leaves), proof)
        assert not verify_consistency(m, n, mth(leaves[:m]), mth(rewritten), proof)
