"""A complaint's thread: messages sealed under the complaint's own data key.

The key is wrapped by the master key with the complaint and its collection as
associated data; each message's associated data names the complaint, its place in
the thread and its kind, so a message cannot be moved to another complaint or put in
another's place. The collection's destruction deletes the key and the messages (a
trigger, see :mod:`haechi.storage.complaints_tables`); reading then finds no key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from haechi.crypto.envelope import Sealer
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import Conflict
from haechi.rights.complaints import ComplaintInfo, MessageKind, ThreadMessage
from haechi.storage.complaints_tables import complaint_keys, complaint_messages

__all__ = ["add_message", "key_context", "read_thread", "start_thread"]


def key_context(complaint_id: str, collection_id: str) -> bytes:
    """Associated data of a complaint's wrapped key: the complaint and its collection."""
    return f"complaint|{complaint_id}|{collection_id}".encode()


def _message_context(complaint_id: str, seq: int, kind: str) -> bytes:
    return f"haechi-complaint|{complaint_id}|{seq}|{kind}".encode()


def start_thread(
    connection: Connection,
    *,
    keys: KeyProvider,
    complaint_id: str,
    collection_id: str,
    petition: str,
    now: datetime,
) -> None:
    """Give a new complaint its thread key and seal the petition as message 1."""
    data_key = new_data_key()
    connection.execute(
        insert(complaint_keys).values(
            complaint_id=complaint_id,
            collection_id=collection_id,
            key_id=keys.key_id,
            wrapped=keys.wrap(data_key, context=key_context(complaint_id, collection_id)),
        )
    )
    _insert_message(
        connection,
        Sealer(data_key),
        complaint_id=complaint_id,
        seq=1,
        kind=MessageKind.PETITION,
        author="petitioner",
        text=petition,
        now=now,
    )


def _insert_message(
    connection: Connection,
    sealer: Sealer,
    *,
    complaint_id: str,
    seq: int,
    kind: MessageKind,
    author: str,
    text: str,
    now: datetime,
) -> None:
    connection.execute(
        insert(complaint_messages).values(
            complaint_id=complaint_id,
            seq=seq,
            kind=kind.value,
            author=author,
            written_at=now,
            sealed=sealer.seal(text, context=_message_context(complaint_id, seq, kind.value)),
        )
    )


def _sealer(connection: Connection, keys: KeyProvider, info: ComplaintInfo) -> Sealer | None:
    """The thread's sealer, or None once the thread key is shredded."""
    wrapped = connection.execute(
        select(complaint_keys.c.wrapped).where(complaint_keys.c.complaint_id == info.id)
    ).scalar_one_or_none()
    if wrapped is None:
        return None
    return Sealer(keys.unwrap(bytes(wrapped), context=key_context(info.id, info.collection_id)))


def add_message(
    connection: Connection,
    *,
    keys: KeyProvider,
    info: ComplaintInfo,
    kind: MessageKind,
    author: str,
    text: str,
    now: datetime,
) -> int:
    """Append a sealed message to the thread; its place in the thread is returned."""
    sealer = _sealer(connection, keys, info)
    if sealer is None:
        raise Conflict("the complaint's thread is destroyed", code="THREAD_DESTROYED")
    last = connection.execute(
        select(func.max(complaint_messages.c.seq)).where(
            complaint_messages.c.complaint_id == info.id
        )
    ).scalar_one()
    seq = int(last or 0) + 1
    _insert_message(
        connection, sealer, complaint_id=info.id, seq=seq, kind=kind, author=author, text=text,
        now=now,
    )  # fmt: skip
    return seq


def read_thread(
    connection: Connection, *, keys: KeyProvider, info: ComplaintInfo, with_text: bool
) -> list[ThreadMessage]:
    """The thread in order; texts opened only ``with_text`` and while the key exists."""
    rows = connection.execute(
        select(complaint_messages)
        .where(complaint_messages.c.complaint_id == info.id)
        .order_by(complaint_messages.c.seq)
    ).all()
    sealer = _sealer(connection, keys, info) if with_text and rows else None
    return [
        ThreadMessage(
            seq=row.seq,
            kind=row.kind,
            author=row.author,
            written_at=row.written_at,
            text=(
                sealer.open(bytes(row.sealed), context=_message_context(info.id, row.seq, row.kind))
                if sealer is not None
                else None
            ),
        )
        for row in rows
    ]
