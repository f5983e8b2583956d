"""After a whole scenario, no personal value lies anywhere it was not sent on purpose.

A real ``haechi serve`` with mail to an aiosmtpd server in the test: collections, uses,
rights requests from the public with mailed codes (access, correction, deletion), a
complaint, failed logins that raise an alert, the sweep. Then Haechi's own scanner
runs over the database files (with their WAL and shared memory), the separated
database, the server's log and every mail received, and the raw bytes of all of them
are searched for every value the test inserted.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from haechi.policy import demo_policy_text
from tests.conftest import PERSON, Database, raw_storage
from tests.reliability.live import collection_body, prepare
from tests.rights.support import Inbox, code_of, inbox
from tests.serving import haechi, start_server, stop_server

__all__ = ["inbox"]  # the fixture, used by name

pytestmark = pytest.mark.slow

# One person per path through the scenario; every value is unique to the test.
ACCESS = {
    "name": "박서준",
    "contact": "010-3141-5926",
    "email": "seojun.park@example.kr",
    "company": "푸른바다물산",
    "department": "영업이팀",
    "title": "과장",
}
CORRECTED = {
    "name": "이하늘",
    "contact": "010-2718-2818",
    "email": "haneul.lee@example.kr",
    "company": "새벽빛전자",
    "department": "품질관리부",
    "title": "주임",
}
CORRECTION = {"company": "노을빛전자", "department": "품질보증부"}
DELETED = {
    "name": "최유나",
    "contact": "010-1618-0339",
    "email": "yuna.choi@example.kr",
    "company": "한결건설",
    "department": "설계실",
    "title": "책임연구원",
}
PETITIONER = {
    "name": "정도윤",
    "contact": "010-5772-1566",
    "email": "doyun.jung@example.kr",
    "company": "다솜식품",
    "department": "고객지원실",
    "title": "사원",
}
PETITION = "배송 주소가 다른 사람의 것으로 보입니다 확인번호 가온누리4417"


def _decoded(message: EmailMessage) -> str:
    """Every part of a message (body and attachments), decoded."""
    parts: list[str] = []
    for part in message.walk():
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def _wait_for(mailbox: Inbox, predicate: Callable[[EmailMessage], bool]) -> EmailMessage:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in list(mailbox.messages):
            if predicate(message):
                return message
        time.sleep(0.1)
    raise AssertionError("the expected mail did not arrive")


INSERTED = [
    *PERSON.values(),  # the person live.prepare puts on file
    *ACCESS.values(),
    *CORRECTED.values(),
    *CORRECTION.values(),
    *DELETED.values(),
    *PETITIONER.values(),
    PETITION,
]
PEOPLE = (PERSON, ACCESS, CORRECTED, DELETED, PETITIONER)


def _collect_and_use(client: httpx.Client, token: dict[str, str]) -> None:
    for person in (ACCESS, CORRECTED, DELETED):
        created = client.post("/api/v1/collections", json=collection_body(person), headers=token)
        assert created.status_code == 201, created.text
        subject_id = created.json()["subject_id"]
        used = client.get(f"/api/v1/subjects/{subject_id}/items?purpose=service", headers=token)
        assert used.status_code == 200, used.text
        assert used.json()["items"] == person


def _request(
    client: httpx.Client,
    mailbox: Inbox,
    staff: dict[str, str],
    person: dict[str, str],
    kind: str,
    **extra: object,
) -> str:
    """A person's request from the public API, confirmed by the mailed code, carried out."""
    receipt = client.post(
        "/api/v1/public/requests", json={"kind": kind, "email": person["email"], **extra}
    )
    assert receipt.status_code == 202, receipt.text
    request_id = str(receipt.json()["request_id"])
    code_mail = _wait_for(
        mailbox, lambda mail: mail["To"] == person["email"] and _code_for(mail, request_id)
    )
    verified = client.post(
        f"/api/v1/public/requests/{request_id}/verify",
        json={"code": code_of(code_mail)},
        headers={"X-Status-Token": receipt.json()["status_token"]},
    )
    assert verified.status_code == 200, verified.text
    started = client.post(f"/api/v1/requests/{request_id}/start", headers=staff)
    assert started.status_code == 200, started.text
    completed = client.post(f"/api/v1/requests/{request_id}/complete", json={}, headers=staff)
    assert completed.status_code == 200, completed.text
    _wait_for(mailbox, lambda mail: mail["To"] == person["email"] and _answer_to(mail, request_id))
    return request_id


def _code_for(mail: EmailMessage, request_id: str) -> bool:
    return request_id in _decoded(mail) and not _answer_to(mail, request_id)


def _answer_to(mail: EmailMessage, request_id: str) -> bool:
    return request_id in str(mail["Subject"])


def _run_scenario(client: httpx.Client, mailbox: Inbox, seeded: dict[str, str]) -> str:
    token = {"Authorization": f"Bearer {seeded['token']}"}
    staff = {"Authorization": f"Bearer {seeded['session']}"}
    _collect_and_use(client, token)
    access = _request(client, mailbox, staff, ACCESS, "access")
    _request(client, mailbox, staff, CORRECTED, "correction", corrections=CORRECTION)
    _request(client, mailbox, staff, DELETED, "deletion")
    complaint = client.post(
        "/api/v1/public/complaints",
        json={
            "items": PETITIONER,
            "description": PETITION,
            "consent": {"granted": True, "method": "web-form"},
        },
    )
    assert complaint.status_code == 202, complaint.text
    for attempt in range(6):
        refused = client.post(
            "/api/v1/auth/login",
            json={"username": "reliab-nobody", "password": f"wrong-{attempt}"},
        )
        assert refused.status_code == 401, refused.text
    _wait_for(mailbox, lambda mail: "alert" in str(mail["Subject"]))
    return access


def _allowed(path: Path, mails: dict[str, EmailMessage], access_request: str) -> set[str]:
    """The inserted values ``path`` may hold: none, but in a mail to a person.

    A mail may name its recipient's address (its To header); the answer to the access
    request carries that person's data on purpose (the export they asked for).
    """
    mail = mails.get(path.stem)
    if mail is None:
        return set()
    to = str(mail["To"])
    allowed = {to} if to in INSERTED else set()
    if _answer_to(mail, access_request):
        allowed |= set(ACCESS.values())
    return allowed


def _value_at(path: Path, where: dict[str, object]) -> str | None:
    """The inserted value a scanner finding points at, if it points at one."""
    raw = path.read_bytes()
    if "offset" in where:
        start = int(str(where["offset"]))
        rest = raw[start:]
    else:
        line = raw.decode("utf-8", "replace").splitlines()[int(str(where["line"])) - 1]
        rest = line[int(str(where["column"])) - 1 :].encode()
    return next((value for value in INSERTED if rest.startswith(value.encode())), None)


def test_no_personal_value_outside_the_mail_sent_on_purpose(
    tmp_path: Path, inbox: tuple[Inbox, int], database: Database
) -> None:
    """It finds the values inserted only where a person was sent them, raw or by the scanner."""
    policy = demo_policy_text()
    assert [value for value in INSERTED if value in policy] == []  # no value is the policy's
    # SQLite: the data directory's own files. PostgreSQL: the test database, emptied.
    backend = database.backend
    postgres = backend == "postgresql"
    init_args = ("--database", database.url) if postgres else ()
    mailbox, port = inbox
    data_dir = tmp_path / "data"
    settings = (
        f'[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\noutbox_interval_seconds = 1\n'
        "[monitor]\ninterval_seconds = 1\n"
    )
    seeded = prepare(data_dir, settings=settings, init_args=init_args)
    evidence = tmp_path / "evidence"
    (evidence / "live").mkdir(parents=True)
    server = start_server(data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            access_request = _run_scenario(client, mailbox, seeded)
        # The files as a running server leaves them: WAL and shared memory included.
        for path in data_dir.glob("*.db*"):
            shutil.copyfile(path, evidence / "live" / path.name)
    finally:
        stop_server(server)
    swept = haechi("sweep", "--data", str(data_dir))
    assert swept.returncode == 0, swept.stderr

    log = "".join(server.output) + swept.stdout + swept.stderr
    (evidence / "server.log").write_text(log, encoding="utf-8")
    for path in data_dir.glob("*.db*"):
        shutil.copyfile(path, evidence / path.name)
    if postgres:
        (evidence / "pg_dump.sql").write_bytes(raw_storage(database))
    mails: dict[str, EmailMessage] = {}
    for index, mail in enumerate(mailbox.messages):
        mails[f"mail-{index}"] = mail
        (evidence / f"mail-{index}.eml").write_bytes(mailbox.raw[index])
        (evidence / f"mail-{index}.txt").write_text(_decoded(mail), encoding="utf-8")
    files = sorted(path for path in evidence.rglob("*") if path.is_file())

    # The raw bytes: every inserted value, exactly, in UTF-8.
    found_raw = {
        path: {value for value in INSERTED if value.encode() in path.read_bytes()} for path in files
    }
    answer = next(name for name, mail in mails.items() if _answer_to(mail, access_request))
    assert found_raw[evidence / f"{answer}.txt"] == set(ACCESS.values())  # the search works
    leaks = {
        path.relative_to(evidence).as_posix(): sorted(found - _allowed(path, mails, access_request))
        for path, found in found_raw.items()
    }
    assert {name: values for name, values in leaks.items() if values} == {}

    # Haechi's own scanner over the same files, binaries (database, WAL, shm) included.
    scanned = haechi("scan", "--binary", "--format", "json", "--data", str(data_dir), str(evidence))
    assert scanned.returncode == 0, scanned.stderr
    report = json.loads(scanned.stdout)
    assert report["skipped"] == []
    by_scanner: dict[Path, set[str]] = {}
    for finding in report["findings"]:
        path = Path(finding["where"]["source"])
        value = _value_at(path, finding["where"])
        if value is not None:
            by_scanner.setdefault(path, set()).add(value)
    assert by_scanner[evidence / f"{answer}.txt"] == {ACCESS["email"], ACCESS["contact"]}
    scanner_leaks = {
        path.relative_to(evidence).as_posix(): sorted(found - _allowed(path, mails, access_request))
        for path, found in by_scanner.items()
    }
    assert {name: values for name, values in scanner_leaks.items() if values} == {}
    # What the scanner cannot see: values with no pattern (names, companies, free text).
    unseen = set(ACCESS.values()) - by_scanner[evidence / f"{answer}.txt"]
    print(
        f"\n{backend}: {len(files)} files ({sum(p.stat().st_size for p in files):,} bytes), "
        f"{len(mailbox.messages)} mails, {len(INSERTED)} values searched; "
        f"scanner findings {len(report['findings'])}, of inserted values "
        f"{sum(len(v) for v in by_scanner.values())} (all in mail to their person); "
        f"raw hits outside allowed mail: 0; unpatterned values the scanner cannot see: "
        f"{len(unseen)} of {len(ACCESS)} in the access answer"
    )
