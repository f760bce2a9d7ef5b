"""Photos on report, handle and check: sniffed from their bytes, stored once by content hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.cases.models import Attachment
from cityops.db import settings_of
from cityops.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

CHUNK = 1 << 20


def sniff_image(head: bytes) -> str | None:
    """The image type the leading bytes prove, whatever the file is called."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def storage_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256[2:4] / sha256


def store_attachment(
    session: Session, *, actor: Actor, stream: BinaryIO, filename: str | None
) -> Attachment:
    """Check and store an uploaded photo; nothing is kept when it is refused."""
    settings = settings_of(session)
    root: Path = settings.attachments_dir
    limit: int = settings.max_upload_bytes
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"file is larger than {limit // (1024 * 1024)} MB", field="file"
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidInput("file is empty", field="file")
        content_type = sniff_image(head)
        if content_type is None:
            raise UnsupportedMedia(
                "file is not a JPEG, PNG or WebP image (checked from its content, not its name)",
                field="file",
            )
        sha = digest.hexdigest()
        final = storage_path(root, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            tmp.unlink()
        else:
            tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    row = Attachment(
        district_code=actor.district_code,
        sha256=sha,
        content_type=content_type,
        size=size,
        original_name=(filename or "")[:256] or None,
        uploaded_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="attachment.upload",
        object_type="attachment",
        object_id=row.id,
        detail={"sha256": sha, "size": size},
    )
    return row
