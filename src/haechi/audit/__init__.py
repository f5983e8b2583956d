"""The access log: audit events (tamper evidence is layered on top of this table)."""

from haechi.audit.events import AuditEvent, list_events, record_event

__all__ = ["AuditEvent", "list_events", "record_event"]
