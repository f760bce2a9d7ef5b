"""Backup and restore: a consistent online snapshot of the database and the attachments.

The archive (tar.gz) holds ``manifest.json``, one JSON-lines file per table (rows in primary
key order, values encoded by column type, so it restores into SQLite or PostgreSQL alike) and
the attachment files, with a SHA-256 for every member in the manifest.

Consistency: SQLite is first copied with the sqlite3 online backup API and exported from the
copy; PostgreSQL is exported inside one REPEATABLE READ, READ ONLY transaction, so every table
is read at the same instant while writers go on. Attachments are content-addressed and only
ever added, and a file is written before its row commits, so copying them after the database
snapshot includes every file the snapshot refers to.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Engine, MetaData, Table, func, inspect, select, text
from sqlalchemy import types as sqltypes

import cityops.models  # noqa: F401  (every domain's tables on Base.metadata)
from cityops import __version__
from cityops.db import Base, make_engine, writer_bind
from cityops.timeutil import utcnow

FORMAT = "cityops-backup/1"
MANIFEST = "manifest.json"
_BATCH = 1000
_SHA = re.compile(r"^[0-9a-f]{64}$")
_MEMBER = re.compile(r"^(db/[a-z0-9_]+\.jsonl|attachments/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64})$")
#: Tables of the tooling, not of the data: the target's own migration state is kept.
SKIPPED_TABLES = frozenset({"alembic_version"})


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


class _Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...


# --- values ---------------------------------------------------------------------------------


def _python_type(coltype: sqltypes.TypeEngine[Any]) -> type | None:
    if isinstance(coltype, sqltypes.TypeDecorator):
        coltype = coltype.impl_instance
    try:
        return coltype.python_type
    except NotImplementedError:
        return None


def encode_value(value: Any) -> Any:
    """A JSON-ready form of a column value (the column's type says how to read it back)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode_value(value: Any, coltype: sqltypes.TypeEngine[Any]) -> Any:
    if isinstance(coltype, sqltypes.TypeDecorator):
        coltype = coltype.impl_instance
    if value is None or isinstance(coltype, sqltypes.JSON):
        return value
    kind = _python_type(coltype)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is time:
        return time.fromisoformat(value)
    if kind is bytes:
        return base64.b64decode(value)
    if kind is Decimal:
        return Decimal(value)
    return value


# --- reading tables -------------------------------------------------------------------------


def data_tables(conn: Connection) -> list[Table]:
    """Every table in the database, the models' first in dependency order, then any other."""
    present = set(inspect(conn).get_table_names()) - SKIPPED_TABLES
    known = [t for t in Base.metadata.sorted_tables if t.name in present]
    others = sorted(present - {t.name for t in known})
    if others:
        # Tables no model describes yet (another package's work in progress) are still saved.
        reflected = MetaData()
        reflected.reflect(conn, only=others)
        known += [reflected.tables[name] for name in others]
    return known


def dump_table(conn: Connection, table: Table, sink: _Sink) -> tuple[int, str]:
    """Write the table as canonical JSON lines in primary key order; (rows, SHA-256)."""
    digest = hashlib.sha256()
    order = list(table.primary_key.columns) or list(table.columns)
    rows = 0
    result = conn.execution_options(yield_per=_BATCH).execute(select(table).order_by(*order))
    for row in result.mappings():
        line = json.dumps(
            {name: encode_value(value) for name, value in row.items()},
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        line += b"\n"
        digest.update(line)
        sink.write(line)
        rows += 1
    return rows, digest.hexdigest()


class _Null:
    def write(self, data: bytes, /) -> int:
        return len(data)


def table_checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every table, read in one consistent snapshot."""
    with _snapshot(engine) as conn:
        return {t.name: dump_table(conn, t, _Null()) for t in data_tables(conn)}


class _snapshot:
    """A connection that sees one instant of the database (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._copy: Engine | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> Connection:
        if self.engine.dialect.name == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="cityops-snap-")
            path = Path(self._tmp.name) / "snapshot.db"
            raw = self.engine.raw_connection()
            try:
                target = sqlite3.connect(path)
                try:
                    raw.driver_connection.backup(target)  # type: ignore[union-attr]
                finally:
                    target.close()
            finally:
                raw.close()
            self._copy = make_engine(f"sqlite:///{path}")
            self._conn = self._copy.connect()
            return self._conn
        conn = self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        conn.execute(text("SET TRANSACTION READ ONLY"))
        self._conn = conn
        return conn

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
        if self._copy is not None:
            self._copy.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()


def schema_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


# --- backup ---------------------------------------------------------------------------------


@dataclass
class BackupReport:
    path: Path
    tables: dict[str, tuple[int, str]]
    attachments: int
    bytes: int
    warnings: list[str] = field(default_factory=list)


def _sha_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _attachment_files(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    for path in sorted(root.glob("??/??/*")):
        if path.is_file() and _SHA.match(path.name):
            yield f"attachments/{path.parent.parent.name}/{path.parent.name}/{path.name}", path


def backup(*, engine: Engine, attachments_dir: Path, output: Path) -> BackupReport:
    """Write a snapshot of the database and the attachments to ``output`` (tar.gz)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    files: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="cityops-backup-") as tmp,
        tarfile.open(partial, "w:gz") as tar,
    ):
        with _snapshot(engine) as conn:
            revision = schema_revision(conn)
            for table in data_tables(conn):
                name = f"db/{table.name}.jsonl"
                path = Path(tmp) / f"{table.name}.jsonl"
                with path.open("wb") as out:
                    rows, sha = dump_table(conn, table, out)
                tar.add(path, arcname=name)
                path.unlink()
                files[name] = sha
                tables[table.name] = {"file": name, "rows": rows, "sha256": sha}
        attachments = 0
        for arcname, path in _attachment_files(attachments_dir):
            sha = _sha_file(path)
            if sha != path.name:
                warnings.append(f"{arcname}: content does not match its name (damaged on disk)")
            tar.add(path, arcname=arcname)
            files[arcname] = sha
            attachments += 1
        manifest = {
            "format": FORMAT,
            "created_at": utcnow().isoformat(),
            "cityops_version": __version__,
            "backend": engine.dialect.name,
            "schema_revision": revision,
            "tables": tables,
            "attachments": attachments,
            "files": files,
        }
        data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    partial.replace(output)  # a crash mid-way never leaves a complete-looking archive
    return BackupReport(
        path=output,
        tables={n: (t["rows"], t["sha256"]) for n, t in tables.items()},
        attachments=attachments,
        bytes=output.stat().st_size,
        warnings=warnings,
    )


# --- restore --------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    tables: dict[str, int]
    attachments: int


def _copy_member(src: IO[bytes], dest: Path) -> str:
    digest = hashlib.sha256()
    with dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def unpack_verified(archive: Path, into: Path) -> dict[str, Any]:
    """Extract ``archive`` into ``into`` and check every member against the manifest.

    Raises BackupError for a damaged, truncated, tampered or foreign archive; nothing is
    written to any database before this has passed.
    """
    hashes: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None:
                    raise BackupError(f"unexpected entry {member.name!r} in the archive")
                if member.name == MANIFEST:
                    manifest = json.loads(handle.read())
                    continue
                if not _MEMBER.match(member.name):
                    # Names are checked before use, so no entry can write outside ``into``.
                    raise BackupError(f"unexpected entry {member.name!r} in the archive")
                dest = into / member.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                hashes[member.name] = _copy_member(handle, dest)
    except (tarfile.TarError, EOFError, OSError, zlib.error, json.JSONDecodeError) as exc:
        raise BackupError(f"{archive} is damaged or not a cityops backup: {exc}") from exc
    if manifest is None or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} has no {FORMAT} manifest; is it a cityops backup?")
    expected: dict[str, str] = manifest["files"]
    missing = sorted(set(expected) - set(hashes))
    extra = sorted(set(hashes) - set(expected))
    bad = sorted(n for n in expected if n in hashes and hashes[n] != expected[n])
    if missing or extra or bad:
        parts = [
            f"{label}: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}"
            for label, names in (("checksum mismatch", bad), ("missing", missing), ("extra", extra))
            if names
        ]
        raise BackupError(f"{archive} is damaged; refusing to restore ({'; '.join(parts)})")
    return manifest


def _check_target(conn: Connection, manifest: dict[str, Any]) -> dict[str, Table]:
    tables = {t.name: t for t in data_tables(conn)}
    absent = sorted(set(manifest["tables"]) - set(tables))
    if absent:
        raise BackupError(
            f"the target database lacks tables {', '.join(absent[:5])}; "
            "run `cityops db upgrade` on an empty database first"
        )
    revision = schema_revision(conn)
    wanted = manifest.get("schema_revision")
    if revision and wanted and revision != wanted:
        raise BackupError(
            f"the archive is of schema {wanted} but the target is at {revision}; "
            f"restore into a database upgraded to {wanted}"
        )
    for table in tables.values():
        if conn.execute(select(func.count()).select_from(table)).scalar():
            raise BackupError(
                f"the target database is not empty (table {table.name} has rows); "
                "restore only into a new database made with `cityops db upgrade`"
            )
    return tables


def _load_table(
    conn: Connection, table: Table, path: Path, loaded: set[str]
) -> tuple[int, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Insert the rows; return the count and the foreign keys to set once all rows exist."""
    # A key pointing into its own table (a merge target, a parent unit) or into a table not yet
    # loaded may name a row that comes later: insert NULL now and fill it in at the end.
    later = {
        fk.parent.name
        for fk in table.foreign_keys
        if fk.column.table.name == table.name or fk.column.table.name not in loaded
    }
    pk = [c.name for c in table.primary_key.columns]
    deferred: list[tuple[dict[str, Any], dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            raw = json.loads(line)
            row = {
                c.name: decode_value(raw.get(c.name), c.type)
                for c in table.columns
                if c.name in raw
            }
            held = {name: row[name] for name in later if row.get(name) is not None}
            if held:
                deferred.append(({k: row[k] for k in pk}, held))
                row.update(dict.fromkeys(held))
            batch.append(row)
            if len(batch) >= _BATCH:
                conn.execute(table.insert(), batch)
                count += len(batch)
                batch = []
    if batch:
        conn.execute(table.insert(), batch)
        count += len(batch)
    return count, deferred


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """PostgreSQL: move each serial sequence past the restored ids."""
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sqltypes.Integer):
                continue
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": table.name, "c": column.name},
            ).scalar()
            if seq:
                conn.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": seq},
                )


def restore(*, engine: Engine, attachments_dir: Path, archive: Path) -> RestoreReport:
    """Load a verified archive into an empty database and put the attachments back."""
    with tempfile.TemporaryDirectory(prefix="cityops-restore-") as tmp:
        root = Path(tmp)
        manifest = unpack_verified(archive, root)
        counts: dict[str, int] = {}
        with writer_bind(engine).begin() as conn:
            tables = _check_target(conn, manifest)
            loaded: set[str] = set()
            pending: list[tuple[Table, dict[str, Any], dict[str, Any]]] = []
            order = [t for t in tables.values() if t.name in manifest["tables"]]
            for table in order:
                info = manifest["tables"][table.name]
                count, deferred = _load_table(conn, table, root / info["file"], loaded)
                if count != info["rows"]:
                    raise BackupError(
                        f"{table.name}: {count} rows read, manifest says {info['rows']}"
                    )
                counts[table.name] = count
                loaded.add(table.name)
                pending += [(table, key, values) for key, values in deferred]
            for table, key, values in pending:
                where = [table.c[name] == value for name, value in key.items()]
                conn.execute(table.update().where(*where).values(**values))
            if engine.dialect.name == "postgresql":
                _reset_sequences(conn, order)
        attachments = 0
        source = root / "attachments"
        for path in sorted(source.glob("??/??/*")) if source.is_dir() else []:
            dest = attachments_dir / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                shutil.copyfile(path, dest)
            attachments += 1
    return RestoreReport(tables=counts, attachments=attachments)


def attachment_hashes(attachments_dir: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every stored attachment (for comparing two installations)."""
    return {name: _sha_file(path) for name, path in _attachment_files(attachments_dir)}
