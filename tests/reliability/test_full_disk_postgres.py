"""A full disk under PostgreSQL: 507 STORAGE_FULL, the server keeps running, nothing lost.

A private cluster keeps its catalogs and its WAL on the ordinary disk; Haechi's tables
and indexes are moved, after the migrations, to a tablespace on a tmpfs of its own
(8 MiB, owned by ``postgres``), mostly taken by a ballast file. PostgreSQL then fails
to extend a table or an index file ("could not extend file …: No space left on
device", SQLSTATE 53100) as an ordinary error of the statement; a full ``pg_wal``
would make it PANIC and restart instead, which the restart test covers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from tests.reliability import full_disk
from tests.reliability.live import prepare
from tests.reliability.private_postgres import Cluster, private_postgres
from tests.serving import haechi

pytestmark = pytest.mark.slow

DISK = "8m"
MARGIN = 256 * 1024  # bytes left free for the tables once the ballast is written
TABLESPACE = "haechi_small"
FILE_LIMIT = 1024 * 1024  # the largest file the cluster may write: a WAL segment (1 MiB)


def _sql(cluster: Cluster, *statements: str) -> list[tuple[object, ...]]:
    """Run ``statements`` in autocommit as the superuser; the last one's rows."""
    rows: list[tuple[object, ...]] = []
    with psycopg.connect(cluster.url, autocommit=True) as connection:
        for statement in statements:
            cursor = connection.execute(statement.encode())
            rows = cursor.fetchall() if cursor.description else []
    return rows


def _move_to_small_disk(cluster: Cluster, location: Path) -> None:
    """Put every table and index of Haechi's (both schemas) in a tablespace at ``location``."""
    location.mkdir()
    shutil.chown(location, "postgres", "postgres")
    _sql(
        cluster,
        f"CREATE TABLESPACE {TABLESPACE} OWNER postgres LOCATION '{location}'",
        f"ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE {TABLESPACE}",
        f"ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE {TABLESPACE}",
        # Anything created later (by a later migration) goes there too.
        f"ALTER DATABASE haechi SET default_tablespace = {TABLESPACE}",
    )
    left = _sql(
        cluster,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'i', 't') AND c.reltablespace = 0 "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
    )
    assert left == [(0,)], f"relations left on the ordinary disk: {left}"


def _postmaster_pid(cluster: Cluster) -> int:
    return int((cluster.directory / "data" / "postmaster.pid").read_text().split()[0])


def _sparse_tables(cluster: Cluster) -> None:
    """Fill Haechi's table pages to 10 % only, so that a table reaches the limit soon."""
    tables = _sql(
        cluster,
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
    _sql(
        cluster,
        *(f'ALTER TABLE "{schema}"."{name}" SET (fillfactor = 10)' for schema, name in tables),
    )


def _lift_file_size_limit(cluster: Cluster) -> None:
    """Stop the cluster, and start it again without the limit (as an operator would)."""
    cluster.pg_ctl("stop", "-m", "fast")
    cluster.file_size_limit = None
    cluster.start()


def _unsealed(cluster: Cluster) -> int:
    """Events not yet under a signed tree head."""
    ((count,),) = _sql(
        cluster,
        "SELECT count(*) FROM audit_events WHERE id NOT IN (SELECT event_id FROM audit_leaves)",
    )
    assert isinstance(count, int)
    return count


def test_a_full_tablespace_refuses_with_507_and_loses_nothing(tmp_path: Path) -> None:
    """It answers 201 or 507 only, PostgreSQL never restarts, every 201 reads back, it recovers."""
    data_dir = tmp_path / "data"
    with (
        private_postgres() as cluster,
        full_disk.small_tmpfs(cluster.directory / "disk", DISK, owner="postgres") as disk,
    ):
        # The monitors seal too, before they look: kept out of the way, only the sealer seals.
        seeded = prepare(
            data_dir,
            settings="[monitor]\ninterval_seconds = 3600\n",
            init_args=("--database", cluster.url),
        )
        _move_to_small_disk(cluster, disk / "tablespace")
        postmaster = _postmaster_pid(cluster)
        ballast = full_disk.Ballast(disk, MARGIN)
        with full_disk.serving(data_dir, seeded["token"]) as run:
            run.exhaust(ballast, prefix="pgdisk", collection_id=seeded["collection_id"])
            # The CLI: a token's row and its event may fit in pages already there;
            # if not, one line and exit 2.
            cli = haechi("tokens", "create", "--name", "full", "-p", "service", "-d", str(data_dir))
            if cli.returncode != 0:
                full_disk.assert_refused_in_one_line(cli)
            cli_answer = "exit 2, no space left" if cli.returncode else "exit 0, stored"

            ballast.remove()
            run.recover()
            full_disk.wait_sealed(lambda: _unsealed(cluster))

        print(
            f"\nanswers: {dict(run.answers)}; CLI while full: {cli_answer}; "
            f"acknowledged and read back: {len(run.acknowledged)}"
        )
        full_disk.assert_clean(run)
        # psycopg's class for SQLSTATE 53100: every refusal was PostgreSQL's own "disk full".
        output = "".join(run.server.output)
        assert (
            output.count("database has no space left: DiskFull") == run.answers[full_disk.FULL]
        ), output
        # The disk filled under the tables only: PostgreSQL said so, and never restarted.
        log = (cluster.directory / "server.log").read_text(errors="replace")
        assert "could not extend file" in log
        assert "PANIC" not in log
        assert "terminated by signal" not in log
        assert _postmaster_pid(cluster) == postmaster
        print(f"PostgreSQL: {log.count('could not extend file')} × could not extend file")
        print(f"PostgreSQL: {log.count('No space left on device')} × No space left on device")
        verified = haechi("audit", "verify", "--data", str(data_dir))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        print(verified.stdout.strip())


def test_a_file_size_limit_refuses_with_507_and_loses_nothing(tmp_path: Path) -> None:
    """It answers a limit met while a table grows (XX000, not 53100) with 507, never 500.

    PostgreSQL reports ``EFBIG`` (a file size limit) and ``EDQUOT`` (a quota) as an
    internal error: the server's processes here may write no file past
    :data:`FILE_LIMIT` (WAL segments of 1 MiB fit), and Haechi's tables fill their
    pages to 10 % so that one reaches it after about a hundred collections. Then the
    cluster is restarted without the limit, as an operator raising a quota would; the
    pool replaces its connections on its own.
    """
    data_dir = tmp_path / "data"
    with private_postgres("--wal-segsize=1", file_size_limit=FILE_LIMIT) as cluster:
        seeded = prepare(
            data_dir,
            settings="[monitor]\ninterval_seconds = 3600\n",
            init_args=("--database", cluster.url),
        )
        _sparse_tables(cluster)
        postmaster = _postmaster_pid(cluster)
        with full_disk.serving(data_dir, seeded["token"]) as run:
            run.fill("pglimit")
            other = run.collect("other@example.kr", "marketing")
            assert full_disk.answer(other) == full_disk.FULL, other.text
            # PostgreSQL kept running: an error of the statement, not a crash.
            assert _postmaster_pid(cluster) == postmaster
            _lift_file_size_limit(cluster)
            run.recover()
            full_disk.wait_sealed(lambda: _unsealed(cluster))

        print(
            f"\nanswers: {dict(run.answers)}; acknowledged and read back: {len(run.acknowledged)}"
        )
        full_disk.assert_clean(run)
        output = "".join(run.server.output)
        assert output.count("database has no space left: ") == run.answers[full_disk.FULL], output
        log = (cluster.directory / "server.log").read_text(errors="replace")
        assert "File too large" in log
        assert "PANIC" not in log
        print(f"PostgreSQL: {log.count('File too large')} × File too large")
        verified = haechi("audit", "verify", "--data", str(data_dir))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        print(verified.stdout.strip())
