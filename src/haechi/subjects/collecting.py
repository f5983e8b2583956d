"""Collection: checking values against the policy; sealing anew for a correction.

:func:`validate_collection` runs before any database work and reports every problem
at once (one error whose ``faults`` list each field). Storing a collection lives in
:mod:`haechi.subjects.collector`; :func:`drop_items` and :func:`seal_items` replace a
collection's values under a fresh data key inside a Core transaction (a correction a
person asked for).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, delete, insert

from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.epochs import Store
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import (
    Conflict,
    ConsentRequired,
    HaechiError,
    InvalidInput,
    ItemNotDeclared,
    MissingItem,
    Problem,
    PurposeNotDeclared,
)
from haechi.policy.schema import Policy, Purpose
from haechi.storage.keyring import shred_keys, wrap_data_key
from haechi.storage.tables import data_keys, items
from haechi.subjects.models import ConsentEvidence
from haechi.subjects.values import CleanValue, clean_value, unsafe_text

__all__ = ["MAX_ITEMS", "OnFile", "drop_items", "seal_items", "validate_collection"]

# More keys than this (or than the policy declares items, if more) are refused before
# any per-item work: one fault, not one per key.
MAX_ITEMS = 64

_INSERT_KEY = insert(data_keys)
_INSERT_ITEMS = insert(items)

_Fault = tuple[type[HaechiError], Problem]


def validate_collection(
    policy: Policy, *, purpose: str, values: Mapping[str, object], consent: ConsentEvidence
) -> tuple[Purpose, dict[str, CleanValue]]:
    """Check a collection against the policy before touching the database.

    Every problem is reported in one error's ``faults``; the error is of the first
    problem's class (item names, undeclared items, missing items, consent, values).
    Only names the policy declares are echoed; other keys are counted, never quoted.
    """
    limit = max(MAX_ITEMS, len(policy.items))
    if len(values) > limit:
        raise InvalidInput(
            f"a collection holds at most {limit} items", field="items", code="TOO_MANY_ITEMS"
        )
    declared = policy.purpose(purpose)
    if declared is None:
        raise PurposeNotDeclared("the purpose is not declared in the policy", field="purpose")
    faults: list[_Fault] = []
    names = [key for key in values if isinstance(key, str) and not unsafe_text(key)]
    if len(names) < len(values):
        faults.append(
            _fault(InvalidInput, "items", "INVALID_ITEM_NAME", "an item name is not plain text")
        )
    for name in sorted(n for n in names if n in policy.items and n not in declared.all_items):
        message = f"items.{name} is not declared for purpose {purpose!r}"
        faults.append(_fault(ItemNotDeclared, f"items.{name}", "ITEM_NOT_DECLARED", message))
    unknown = sum(1 for name in names if name not in policy.items)
    if unknown:
        message = f"{unknown} item(s) not declared in the policy"
        faults.append(_fault(ItemNotDeclared, "items", "ITEM_NOT_DECLARED", message))
    for name in declared.items:
        if name not in values:
            message = f"items.{name} is required for purpose {purpose!r}"
            faults.append(_fault(MissingItem, f"items.{name}", "MISSING_ITEM", message))
    if declared.needs_consent and not consent.granted:
        message = f"purpose {purpose!r} needs the subject's consent"
        faults.append(_fault(ConsentRequired, "consent.granted", "NO_CONSENT", message))
    cleaned: dict[str, CleanValue] = {}
    for name in names:
        if name not in declared.all_items:
            continue
        try:
            cleaned[name] = clean_value(name, policy.items[name], values[name])
        except InvalidInput as error:
            faults.extend((InvalidInput, problem) for problem in error.faults)
    if faults:
        raise _combined(faults)
    return declared, cleaned


def _fault(kind: type[HaechiError], field: str, code: str, message: str) -> _Fault:
    return kind, Problem(field=field, code=code, message=message)


def _combined(faults: list[_Fault]) -> HaechiError:
    """One error of the first fault's class carrying every fault."""
    kind, first = faults[0]
    more = f" (and {len(faults) - 1} more problems)" if len(faults) > 1 else ""
    return kind(
        first.message + more,
        field=first.field,
        code=first.code,
        problems=tuple(problem for _, problem in faults),
    )


class OnFile(Conflict):
    """The person already has live data for the purpose, and it was not to be replaced."""

    code = "ON_FILE"

    def __init__(self, subject_id: str, collection_id: str) -> None:
        super().__init__("the subject already has data for this purpose", code=self.code)
        self.subject_id = subject_id
        self.collection_id = collection_id


def drop_items(connection: Connection, collection_id: str, *, now: datetime) -> None:
    """Delete a collection's items and shred its data key (before sealing anew).

    The old values are destroyed as of ``now``: their epoch key is marked, so copies
    taken before lose them too once the backup window has passed.
    """
    connection.execute(delete(items).where(items.c.collection_id == collection_id))
    shred_keys(connection, Store.MAIN, [collection_id], now)


def seal_items(
    connection: Connection,
    *,
    keys: KeyProvider,
    collection_id: str,
    version: int,
    values: Mapping[str, CleanValue],
    deadline: datetime,
    now: datetime,
) -> None:
    """Seal ``values`` under a fresh data key of generation ``version`` and store both.

    The data key is wrapped by the epoch key of ``deadline`` (the collection's
    destruction deadline). Collection and re-collection use it, and so does a
    correction a person asked for.
    """
    data_key = new_data_key()
    connection.execute(
        _INSERT_KEY,
        wrap_data_key(
            connection,
            keys,
            store=Store.MAIN,
            collection_id=collection_id,
            deadline=deadline,
            now=now,
            data_key=data_key,
        ),
    )
    sealer = Sealer(data_key)
    connection.execute(
        _INSERT_ITEMS,
        [
            {
                "collection_id": collection_id,
                "name": name,
                "sealed": sealer.seal(
                    value.value, context=item_context(collection_id, name, version=version)
                ),
            }
            for name, value in values.items()
        ],
    )
