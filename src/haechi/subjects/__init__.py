"""Subjects, their collections, items and consent."""

from haechi.subjects.service import (
    CollectionInfo,
    CollectResult,
    ConsentEvidence,
    SubjectLookup,
    find_subject,
    get_collection,
    validate_collection,
)
from haechi.subjects.values import identifier

__all__ = [
    "CollectResult",
    "CollectionInfo",
    "ConsentEvidence",
    "SubjectLookup",
    "find_subject",
    "get_collection",
    "identifier",
    "validate_collection",
]
