"""The access log: audit events, sealed into a Merkle tree under signed tree heads."""

from haechi.audit.events import AuditEvent, list_events, record_event
from haechi.audit.prune import PruneResult, prune_log
from haechi.audit.sealer import SealResult, seal
from haechi.audit.signing import HeadSigner, HeadVerifier, TreeHead, create_signing_key_file
from haechi.audit.verify import (
    ConsistencyProof,
    InclusionProof,
    VerifyReport,
    prove_consistency,
    prove_inclusion,
    verify_log,
)

__all__ = [
    "AuditEvent",
    "ConsistencyProof",
    "HeadSigner",
    "HeadVerifier",
    "InclusionProof",
    "PruneResult",
    "SealResult",
    "TreeHead",
    "VerifyReport",
    "create_signing_key_file",
    "list_events",
    "prove_consistency",
    "prove_inclusion",
    "prune_log",
    "record_event",
    "seal",
    "verify_log",
]
