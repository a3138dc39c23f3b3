"""Durable files of received instances under the storage directory.

A file is written under a name nobody else uses (random suffix) and flushed to disk before its
instance is acknowledged, so an acknowledged instance is both stored and indexed. The node
lets an index row commit while its file's flush is still running (both must finish before
the success status); should the machine crash in between, the sender, never told success,
sends again, and the duplicate's stored copy is checked and restored if it came out short
(:meth:`Storage.intact`, :meth:`Storage.restore`). A file whose index row never committed is
an orphan that :func:`sweep_orphans` removes; it never shadows a stored instance.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import secrets
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from hub.config import ImagingSettings

ORPHAN_AGE_SECONDS = 3600
# The file's data and the metadata needed to read it back (its size); not its timestamps.
_sync_data = getattr(os, "fdatasync", os.fsync)
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1408.1"
IMPLEMENTATION_VERSION = "TELEHUB_1"
# What a file is written from: bytes received, or a view of an upload spooled to disk.
Chunk = bytes | memoryview | mmap.mmap


def _element(group_elem: int, vr: bytes, value: bytes) -> bytes:
    head = struct.pack("<HH", 0x0002, group_elem) + vr
    if vr in (b"OB", b"UN"):
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw


def file_meta(sop_class: str, sop_uid: str, transfer_syntax: str) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information group (PS3.10 7.1) of one instance.

    Encoded by hand: pydicom's writer costs ~1 ms per instance on the receive path.
    """
    version = IMPLEMENTATION_VERSION.encode("ascii")
    rest = b"".join(
        (
            _element(0x0001, b"OB", b"\x00\x01"),
            _element(0x0002, b"UI", _uid(sop_class)),
            _element(0x0003, b"UI", _uid(sop_uid)),
            _element(0x0010, b"UI", _uid(transfer_syntax)),
            _element(0x0012, b"UI", _uid(IMPLEMENTATION_CLASS_UID)),
            _element(0x0013, b"SH", version + b" " * (len(version) % 2)),
        )
    )
    return b"\0" * 128 + b"DICM" + _element(0x0000, b"UL", struct.pack("<I", len(rest))) + rest


def relative_path(study_uid: str, sop_uid: str) -> str:
    """``ab/cd/<study digest>/<sop digest>.<random>.dcm``: no UID text in paths, short dirs."""
    study = hashlib.sha256(study_uid.encode()).hexdigest()
    sop = hashlib.sha256(sop_uid.encode()).hexdigest()[:32]
    return f"{study[:2]}/{study[2:4]}/{study[:24]}/{sop}.{secrets.token_hex(4)}.dcm"


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._known_dirs: set[Path] = set()

    def full(self, relative: str) -> Path:
        return self.root / relative

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._known_dirs:
            return
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        if created:
            # The new directory's own entry must reach the disk too, or a crash could lose it.
            _fsync_dir(directory.parent)
        self._known_dirs.add(directory)

    def write(self, relative: str, chunks: list[Chunk]) -> int:
        """Write and fsync a new file; returns its size. Never overwrites an existing file."""
        return self.create(relative, chunks).sync()

    def create(self, relative: str, chunks: list[Chunk]) -> Unsynced:
        """Write a new file without flushing it to disk yet (see :meth:`Unsynced.sync`)."""
        path = self.root / relative
        self._ensure_dir(path.parent)
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o640
        )
        size = 0
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                    size += written
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return Unsynced(path, fd, size)

    def intact(self, relative: str, size: int) -> bool:
        """Whether a stored file is there with its indexed size.

        A crash of the machine before a file's flush finished leaves it shorter than indexed
        (ext4 and XFS record a size on disk only for data written out) or missing.
        """
        try:
            return (self.root / relative).stat().st_size == size
        except FileNotFoundError:
            return False

    def copy_from(self, relative: str, head: bytes, source: int, offset: int, length: int) -> int:
        """Write and fsync a new file of ``head`` and ``length`` bytes of the file ``source``
        from ``offset``; returns its size. The kernel copies: nothing passes through memory
        here, so a large upload costs no more than a small one."""
        path = self.root / relative
        self._ensure_dir(path.parent)
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o640
        )
        try:
            view = memoryview(head)
            while view:
                view = view[os.write(fd, view) :]
            done = 0
            while done < length:
                sent = os.sendfile(fd, source, offset + done, length - done)
                if sent == 0:
                    raise OSError(5, "the source file ended early")
                done += sent
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return Unsynced(path, fd, len(head) + length).sync()

    def restore(self, relative: str, chunks: list[Chunk]) -> None:
        """Put a complete copy in place of a damaged or missing stored file, atomically."""
        # Named as a stored file: one a crash leaves behind is an orphan the sweep removes.
        temporary = f"{relative}.{secrets.token_hex(4)}.restoring.dcm"
        self.write(temporary, chunks)
        try:
            os.replace(self.root / temporary, self.root / relative)
        except BaseException:
            self.delete(temporary)
            raise
        _fsync_dir((self.root / relative).parent)

    def delete(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)

    def files(self) -> Iterator[tuple[str, float]]:
        """Every stored file as (relative path, modification time)."""
        if not self.root.exists():
            return
        for path in self.root.rglob("*.dcm"):
            try:
                yield str(path.relative_to(self.root)), path.stat().st_mtime
            except FileNotFoundError:
                continue


def from_settings(settings: ImagingSettings) -> Storage:
    """The storage of received instances, under the configured storage directory."""
    if settings.storage_dir is None:
        raise RuntimeError("the imaging storage directory is not configured")
    return Storage(Path(settings.storage_dir))


class Unsynced:
    """A new file, written but not yet flushed to disk."""

    def __init__(self, path: Path, fd: int, size: int) -> None:
        self.path = path
        self.size = size
        self._fd = fd

    def sync(self) -> int:
        """Flush the data and the directory entry; returns the size. The file is removed if
        that fails."""
        try:
            _sync_data(self._fd)
        except BaseException:
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
            raise
        os.close(self._fd)
        # The directory entry of the new file, so the flushed data can be found after a crash.
        _fsync_dir(self.path.parent)
        return self.size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_orphans(
    storage: Storage, referenced: set[str], older_than: float = ORPHAN_AGE_SECONDS
) -> list[str]:
    """Delete files no index row points at (a crash between write and commit left them)."""
    cutoff = time.time() - older_than
    removed = []
    for relative, mtime in storage.files():
        if relative not in referenced and mtime < cutoff:
            storage.delete(relative)
            removed.append(relative)
    return removed
