"""Retention: destruction by crypto-shredding (the sweep and certificates build on it)."""

from haechi.retention.destruction import ShredResult, shred_collection

__all__ = ["ShredResult", "shred_collection"]
