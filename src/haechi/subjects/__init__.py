"""Subjects, their collections, items and consent."""

from haechi.subjects.service import (
    CollectionInfo,
    CollectResult,
    ConsentEvidence,
    collect,
    find_subject,
    get_collection,
    validate_collection,
)

__all__ = [
    "CollectResult",
    "CollectionInfo",
    "ConsentEvidence",
    "collect",
    "find_subject",
    "get_collection",
    "validate_collection",
]
