"""The baseline of ``bench_http.py``: a minimal FastAPI app doing a sealed, logged read's raw work.

``GET /read/{id}`` selects one sealed row by key, AES-256-GCM-decrypts it, inserts one
log row and commits; ``POST /collect`` seals a JSON body into one row, inserts one log
row and commits. Same server (uvicorn, one process), same thread pool, same database
(the SQLite file's pragmas are Haechi's: WAL, ``synchronous=NORMAL``, ``secure_delete``),
no policy, no access decision, no tokens: the least any sealed, logged read can cost.

    HTTP_BASELINE_DB=/tmp/base.db HTTP_BASELINE_KEY=<hex> \
        uvicorn --factory benchmarks.http_baseline:create
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Body, FastAPI, HTTPException

__all__ = ["create", "fill"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sealed (id TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, at REAL, actor TEXT, "
    "subject TEXT, purpose TEXT, items TEXT, outcome TEXT)",
)


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "secure_delete=ON",
        "busy_timeout=30000",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def fill(path: str, key: bytes, rows: dict[str, dict[str, str]]) -> None:
    """Create the baseline's tables in ``path`` and seal ``rows`` (id → items) into them."""
    connection = _connect(path)
    aead = AESGCM(key)
    for statement in SCHEMA:
        connection.execute(statement)
    connection.execute("BEGIN")
    for row_id, items in rows.items():
        nonce = os.urandom(12)
        value = nonce + aead.encrypt(nonce, json.dumps(items).encode(), row_id.encode())
        connection.execute("INSERT INTO sealed VALUES (?, ?)", (row_id, value))
    connection.execute("COMMIT")
    connection.close()


def create() -> FastAPI:
    """The app, on the file and key named by ``HTTP_BASELINE_DB`` and ``HTTP_BASELINE_KEY``."""
    path = os.environ["HTTP_BASELINE_DB"]
    aead = AESGCM(bytes.fromhex(os.environ["HTTP_BASELINE_KEY"]))
    local = threading.local()

    def connection() -> sqlite3.Connection:
        # One connection per thread of the pool, as a connection pool would hand out.
        if not hasattr(local, "connection"):
            local.connection = _connect(path)
        held: sqlite3.Connection = local.connection
        return held

    def log(db: sqlite3.Connection, subject: str) -> None:
        db.execute(
            "INSERT INTO log (at, actor, subject, purpose, items, outcome) VALUES (?,?,?,?,?,?)",
            (time.time(), "bench", subject, "service", "[]", "allowed"),
        )

    app = FastAPI()

    @app.get("/read/{row_id}")
    def read(row_id: str) -> dict[str, Any]:
        db = connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value FROM sealed WHERE id = ?", (row_id,)).fetchone()
            if row is None:
                raise HTTPException(404)
            value: bytes = row[0]
            items = json.loads(aead.decrypt(value[:12], value[12:], row_id.encode()))
            log(db, row_id)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return {"subject_id": row_id, "purpose": "service", "items": items}

    @app.post("/collect")
    def collect(items: dict[str, str] = Body(..., embed=True)) -> dict[str, str]:  # noqa: B008
        db = connection()
        row_id = str(uuid.uuid4())
        nonce = os.urandom(12)
        value = nonce + aead.encrypt(nonce, json.dumps(items).encode(), row_id.encode())
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO sealed VALUES (?, ?)", (row_id, value))
            log(db, row_id)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return {"subject_id": row_id}

    return app
