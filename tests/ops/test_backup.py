"""Backup → wipe → restore gives back the same content; damaged archives are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cityops.auth.audit import verify_chain
from cityops.auth.service import actor_of
from cityops.cases import service as case_service
from cityops.cases.attachments import store_attachment
from cityops.cases.lifecycle import Action
from cityops.cases.schemas import CaseReport, MergeBody
from cityops.db import Base, writer_bind
from cityops.ops.backup import (
    BackupError,
    attachment_hashes,
    backup,
    restore,
    table_checksums,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def _report(n: int, **extra) -> CaseReport:
    return CaseReport(
        kind="event",
        minor_code="0102",
        description=f"第{n}处暴露垃圾",
        lon=116.287 + n / 1000,
        lat=39.84,
        reporter_name="王小明",
        reporter_phone="13812341234",
        client_request_id=f"bk-{n}",
        **extra,
    )


def _fill(session, make_user, department) -> None:
    """Cases with history, a merge pointing at a later case, a photo, the audit chain."""
    inspector = actor_of(make_user("inspector"))
    operator = actor_of(make_user("operator"))
    photo = store_attachment(session, actor=inspector, stream=io.BytesIO(PNG), filename="垃圾.png")
    first = case_service.report_case(
        session, actor=inspector, data=_report(1, attachment_ids=[photo.id])
    )
    case_service.report_case(session, actor=inspector, data=_report(2))
    third = case_service.report_case(session, actor=inspector, data=_report(3))
    session.commit()
    # The first case now points at a row inserted after it: restore must defer that key.
    case_service.act(
        session,
        actor=operator,
        case_id=first.case.id,
        action=Action.MERGE,
        body=MergeBody(expected_version=1, target_case_id=third.case.id),
    )
    session.commit()


def _wipe(engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with writer_bind(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


def test_backup_wipe_restore_gives_the_same_content(
    engine, session, settings, make_user, department, tmp_path
):
    _fill(session, make_user, department)
    session.close()
    before = table_checksums(engine)
    files_before = attachment_hashes(settings.attachments_dir)
    assert before["cases"][0] == 3 and before["audit_log"][0] > 5 and len(files_before) == 1

    archive = tmp_path / "b.tar.gz"
    report = backup(engine=engine, attachments_dir=settings.attachments_dir, output=archive)
    assert report.tables == before and report.attachments == 1 and not report.warnings

    _wipe(engine)
    for path in settings.attachments_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    assert table_checksums(engine)["cases"][0] == 0

    restored = restore(engine=engine, attachments_dir=settings.attachments_dir, archive=archive)
    assert restored.tables["cases"] == 3 and restored.attachments == 1
    assert table_checksums(engine) == before  # row counts and per-table checksums
    assert attachment_hashes(settings.attachments_dir) == files_before
    assert verify_chain(session, key=settings.audit_key).ok
    session.rollback()
    # Ids continue after the restored ones (PostgreSQL sequences were moved on).
    inspector = actor_of(make_user("inspector"))
    new = case_service.report_case(session, actor=inspector, data=_report(4))
    session.commit()
    assert new.case.id == 4
    assert verify_chain(session, key=settings.audit_key).ok
    session.close()

    with pytest.raises(BackupError, match="not empty"):
        restore(engine=engine, attachments_dir=settings.attachments_dir, archive=archive)


def _rewrite(src: Path, dest: Path, change) -> None:
    with tarfile.open(src, "r:gz") as tar_in, tarfile.open(dest, "w:gz") as tar_out:
        for member in tar_in:
            data = tar_in.extractfile(member).read()
            data = change(member.name, data)
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            tar_out.addfile(info, io.BytesIO(data))


def test_damaged_archives_are_refused_before_anything_is_written(
    engine, session, settings, make_user, department, tmp_path
):
    _fill(session, make_user, department)
    session.close()
    archive = tmp_path / "good.tar.gz"
    backup(engine=engine, attachments_dir=settings.attachments_dir, output=archive)
    _wipe(engine)

    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(
        archive,
        tampered,
        lambda name, data: (
            data.replace("第2处".encode(), "第9处".encode()) if name == "db/cases.jsonl" else data
        ),
    )
    with pytest.raises(BackupError, match=r"checksum mismatch: db/cases\.jsonl"):
        restore(engine=engine, attachments_dir=settings.attachments_dir, archive=tampered)

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(BackupError, match="damaged"):
        restore(engine=engine, attachments_dir=settings.attachments_dir, archive=truncated)

    flipped = tmp_path / "flipped.tar.gz"
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="damaged"):
        restore(engine=engine, attachments_dir=settings.attachments_dir, archive=flipped)

    foreign = tmp_path / "foreign.tar.gz"
    foreign.write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(BackupError):
        restore(engine=engine, attachments_dir=settings.attachments_dir, archive=foreign)

    assert table_checksums(engine)["cases"][0] == 0  # nothing was written


def test_cli_backup_and_restore(
    engine, session, settings, make_user, department, tmp_path, monkeypatch
):
    from cityops.clisupport import cli_settings
    from cityops.ops.cli import app

    _fill(session, make_user, department)
    session.close()
    before = table_checksums(engine)
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CITYOPS_AUDIT_KEY", settings.audit_key)
    cli_settings.cache_clear()
    try:
        archive = tmp_path / "cli.tar.gz"
        runner = CliRunner()
        result = runner.invoke(app, ["backup", "--output", str(archive)])
        assert result.exit_code == 0, result.output
        assert "backup written" in result.output and "1 attachments" in result.output
        result = runner.invoke(app, ["restore", str(archive), "--verify-only"])
        assert result.exit_code == 0 and "intact" in result.output
        result = runner.invoke(app, ["restore", str(archive)])
        assert result.exit_code == 1 and "not empty" in result.output
        _wipe(engine)
        result = runner.invoke(app, ["restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert table_checksums(engine) == before
    finally:
        cli_settings.cache_clear()
