"""Retention: clocks, the sweep, the separated store, destruction and its records."""

from haechi.retention.destruction import ShredResult
from haechi.retention.records import BatchInfo, Certificate, PaperMethod, PaperRecord
from haechi.retention.sweep import StepHook, Sweeper, SweepReport

__all__ = [
    "BatchInfo",
    "Certificate",
    "PaperMethod",
    "PaperRecord",
    "ShredResult",
    "StepHook",
    "SweepReport",
    "Sweeper",
]
