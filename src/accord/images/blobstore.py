"""Image bytes on local disk: one file per image, written by streaming with constant memory.

An upload goes to a hidden temporary file in the store's own directory (so the final rename stays on
one filesystem and is atomic), is hashed and size-checked chunk by chunk, fsynced, renamed over the
final name, and the directory is fsynced so the rename survives a crash. A reader therefore sees
either the previous complete blob or the new complete one, never a partial file. Temporary files a
crash leaves behind are never mistaken for blobs and can be swept with `remove_stale_temp_files`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

READ_CHUNK = 1 << 20
WRITE_BATCH = 1 << 20
# The async path batches small body chunks into one thread hop; this bounds the memory it holds.
ASYNC_BATCH = 1 << 20
TEMP_SUFFIX = ".part"


class BlobStoreError(Exception):
    """Base of the blob store's errors."""


class InvalidBlobId(BlobStoreError, ValueError):
    """A blob id must be a UUID: anything else could name a path outside the store."""


class BlobNotFound(BlobStoreError, FileNotFoundError):
    """No blob is stored under that id."""


class BlobTooLarge(BlobStoreError):
    """The stream went past the size limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"image exceeds the {limit}-byte size limit")
        self.limit = limit


def _blob_name(image_uuid: str) -> str:
    try:
        return str(uuid.UUID(str(image_uuid)))
    except ValueError:
        raise InvalidBlobId(f"not a UUID: {image_uuid!r}") from None


class _PendingBlob:
    """One upload in progress: temp file, running hash and size, committed or aborted exactly once.

    Hashing and disk writes overlap: chunks are hashed as they arrive while the previous WRITE_BATCH
    bytes are written by a single writer thread (both release the GIL). Two fixed buffers alternate,
    one filling while the other is written, so memory is two batches whatever the image size.
    """

    def __init__(self, root: Path, name: str, max_size: int) -> None:
        self._final = root / name
        self._root = root
        self._max_size = max_size
        self._hash = hashlib.sha256()
        self.size = 0
        self._buffers = (bytearray(WRITE_BATCH), bytearray(WRITE_BATCH))
        self._filling = 0
        self._filled = 0
        self._in_flight: Future[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-writer")
        fd, temp = tempfile.mkstemp(dir=root, prefix=f".{name}.", suffix=TEMP_SUFFIX)
        self._temp = Path(temp)
        self._file = os.fdopen(fd, "wb", buffering=0)

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.size += len(chunk)
        if self.size > self._max_size:
            raise BlobTooLarge(self._max_size)
        self._hash.update(chunk)
        view = memoryview(chunk).cast("B")
        while view:
            room = WRITE_BATCH - self._filled
            taken = view[:room]
            self._buffers[self._filling][self._filled : self._filled + len(taken)] = taken
            self._filled += len(taken)
            view = view[len(taken) :]
            if self._filled == WRITE_BATCH:
                self._hand_off_buffer()

    def write_many(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _hand_off_buffer(self) -> None:
        # The other buffer's write must be done before it is refilled.
        self._wait_for_writer()
        data = memoryview(self._buffers[self._filling])[: self._filled]
        self._in_flight = self._writer.submit(self._write_all, data)
        self._filling ^= 1
        self._filled = 0

    def _write_all(self, view: memoryview) -> None:
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]

    def _wait_for_writer(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def commit(self) -> tuple[int, str]:
        if self._filled:
            self._hand_off_buffer()
        self._wait_for_writer()
        self._writer.shutdown()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._final)
        _fsync_dir(self._root)
        return self.size, self._hash.hexdigest()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._wait_for_writer()
        self._writer.shutdown()
        self._file.close()
        self._temp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Blobs under `root`, each named by its image uuid."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, image_uuid: str) -> Path:
        """Where the blob for `image_uuid` lives (whether or not it exists yet)."""
        return self.root / _blob_name(image_uuid)

    def exists(self, image_uuid: str) -> bool:
        return self.path(image_uuid).is_file()

    def write_stream(self, image_uuid: str, chunks: Iterable[bytes], max_size: int) -> tuple[int, str]:
        """Store the chunks as the blob for `image_uuid`, replacing any earlier one; (size, sha256 hex).

        Raises BlobTooLarge past `max_size` bytes; on any error the temp file is removed and an earlier
        blob, if any, is left as it was.
        """
        pending = _PendingBlob(self.root, _blob_name(image_uuid), max_size)
        try:
            for chunk in chunks:
                pending.write(chunk)
            return pending.commit()
        except BaseException:
            pending.abort()
            raise

    async def write_async(
        self, image_uuid: str, chunks: AsyncIterable[bytes], max_size: int
    ) -> tuple[int, str]:
        """`write_stream` for an async byte stream (e.g. a Starlette request body).

        Disk writes, hashing and fsync run in a worker thread so the event loop keeps serving; chunks
        are batched up to ASYNC_BATCH bytes per hop, which is all the memory an upload holds.
        """
        name = _blob_name(image_uuid)
        pending = await asyncio.to_thread(_PendingBlob, self.root, name, max_size)
        batch: list[bytes] = []
        batch_size = 0
        try:
            async for chunk in chunks:
                batch.append(chunk)
                batch_size += len(chunk)
                if batch_size >= ASYNC_BATCH:
                    full, batch, batch_size = batch, [], 0
                    await asyncio.to_thread(pending.write_many, full)
            if batch:
                await asyncio.to_thread(pending.write_many, batch)
            return await asyncio.to_thread(pending.commit)
        except BaseException:
            pending.abort()
            raise

    def open(self, image_uuid: str) -> BinaryIO:
        """The blob opened for binary reading; raises BlobNotFound."""
        try:
            return open(self.path(image_uuid), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob for image {image_uuid}") from None

    def iter_chunks(self, image_uuid: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """The blob's bytes in chunks, for streaming a download."""
        with self.open(image_uuid) as blob:
            while chunk := blob.read(chunk_size):
                yield chunk

    def sha256(self, image_uuid: str) -> str:
        """The blob's sha256, recomputed by streaming it from disk."""
        digest = hashlib.sha256()
        for chunk in self.iter_chunks(image_uuid):
            digest.update(chunk)
        return digest.hexdigest()

    def verify(self, image_uuid: str, sha256_hex: str) -> bool:
        """Whether the stored bytes still hash to `sha256_hex`; False when the blob is missing."""
        try:
            actual = self.sha256(image_uuid)
        except BlobNotFound:
            return False
        return hmac.compare_digest(actual, sha256_hex.strip().lower())

    def delete(self, image_uuid: str) -> bool:
        """Remove the blob; False if there was none."""
        try:
            self.path(image_uuid).unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(self.root)
        return True

    def list_ids(self) -> list[str]:
        """Ids of every complete blob (temporary files excluded)."""
        ids = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            try:
                ids.append(_blob_name(entry.name))
            except InvalidBlobId:
                continue
        return sorted(ids)

    def remove_stale_temp_files(self, older_than_seconds: float = 3600.0) -> int:
        """Delete temporary files of uploads that died (crash, kill); returns how many were removed."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.root.glob(f".*{TEMP_SUFFIX}"):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
