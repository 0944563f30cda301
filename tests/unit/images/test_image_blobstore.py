"""The streaming blob store, on a real directory under tmp_path."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from accord.images.blobstore import BlobNotFound, BlobStore, BlobTooLarge, InvalidBlobId

IMAGE = "0b7c1a52-9d3e-4c36-8f43-2a7d5c0e9b11"
OTHER = "5d6e7f80-1a2b-4c3d-9e8f-001122334455"


def _chunks(total: int, size: int = 100_003) -> Iterator[bytes]:
    sent = 0
    counter = 0
    while sent < total:
        block = bytes([counter % 251]) * min(size, total - sent)
        counter += 1
        sent += len(block)
        yield block


async def _achunks(total: int, size: int = 65_536) -> AsyncIterator[bytes]:
    for chunk in _chunks(total, size):
        await asyncio.sleep(0)
        yield chunk


def _expected(total: int, size: int = 100_003) -> tuple[int, str]:
    digest = hashlib.sha256()
    for chunk in _chunks(total, size):
        digest.update(chunk)
    return total, digest.hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_write_stream_returns_size_and_the_sha256_hashlib_computes(store: BlobStore) -> None:
    total = 3_000_000
    assert store.write_stream(IMAGE, _chunks(total), max_size=10_000_000) == _expected(total)
    assert store.path(IMAGE).stat().st_size == total
    assert hashlib.sha256(store.path(IMAGE).read_bytes()).hexdigest() == _expected(total)[1]
    assert os.listdir(store.root) == [IMAGE]


def test_write_async_matches_the_sync_result(store: BlobStore) -> None:
    total = 2_500_000
    result = asyncio.run(store.write_async(IMAGE, _achunks(total), max_size=total))
    assert result == _expected(total, 65_536)
    assert store.sha256(IMAGE) == result[1]


def test_a_stream_of_exactly_the_limit_is_accepted(store: BlobStore) -> None:
    assert store.write_stream(IMAGE, _chunks(1000), max_size=1000)[0] == 1000


def test_limit_is_enforced_and_nothing_is_left_behind(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge) as info:
        store.write_stream(IMAGE, _chunks(1_000_001), max_size=1_000_000)
    assert info.value.limit == 1_000_000
    assert os.listdir(store.root) == []
    assert not store.exists(IMAGE)


def test_async_limit_is_enforced_and_nothing_is_left_behind(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        asyncio.run(store.write_async(IMAGE, _achunks(3_000_000), max_size=2_000_000))
    assert os.listdir(store.root) == []


def test_failed_upload_keeps_the_previous_blob(store: BlobStore) -> None:
    _, sha = store.write_stream(IMAGE, [b"version one"], max_size=100)

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.write_stream(IMAGE, broken(), max_size=100)
    assert store.path(IMAGE).read_bytes() == b"version one"
    assert store.verify(IMAGE, sha)
    assert os.listdir(store.root) == [IMAGE]


def test_a_new_upload_replaces_the_old_blob(store: BlobStore) -> None:
    store.write_stream(IMAGE, [b"old"], max_size=100)
    _, sha = store.write_stream(IMAGE, [b"new", b"er"], max_size=100)
    assert store.path(IMAGE).read_bytes() == b"newer"
    assert sha == hashlib.sha256(b"newer").hexdigest()


def test_crash_leftover_temp_file_is_ignored_and_swept(store: BlobStore) -> None:
    store.write_stream(IMAGE, [b"complete"], max_size=100)
    stale = store.root / f".{OTHER}.abc123.part"
    stale.write_bytes(b"half an upl")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = store.root / f".{OTHER}.def456.part"
    fresh.write_bytes(b"in progress")

    assert store.list_ids() == [IMAGE]
    assert not store.exists(OTHER)
    with pytest.raises(BlobNotFound):
        store.open(OTHER)
    assert store.remove_stale_temp_files(older_than_seconds=3600) == 1
    assert sorted(os.listdir(store.root)) == sorted([IMAGE, fresh.name])


def test_verify_detects_bytes_changed_after_upload(store: BlobStore) -> None:
    _, sha = store.write_stream(IMAGE, _chunks(2_000_000), max_size=10_000_000)
    assert store.verify(IMAGE, sha)
    assert store.verify(IMAGE, sha.upper())
    with open(store.path(IMAGE), "r+b") as blob:
        blob.seek(1_500_000)
        blob.write(b"X")
    assert not store.verify(IMAGE, sha)
    assert not store.verify(OTHER, sha)


def test_open_iter_and_delete(store: BlobStore) -> None:
    store.write_stream(IMAGE, [b"a" * 10, b"b" * 5], max_size=100)
    with store.open(IMAGE) as blob:
        assert blob.read() == b"a" * 10 + b"b" * 5
    assert b"".join(store.iter_chunks(IMAGE, chunk_size=4)) == b"a" * 10 + b"b" * 5
    assert store.delete(IMAGE) is True
    assert store.delete(IMAGE) is False
    with pytest.raises(BlobNotFound):
        store.open(IMAGE)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "not-a-uuid", "", f"{IMAGE}/x"])
def test_ids_that_are_not_uuids_are_refused(store: BlobStore, bad: str) -> None:
    with pytest.raises(InvalidBlobId):
        store.write_stream(bad, [b"x"], max_size=10)
    with pytest.raises(InvalidBlobId):
        store.path(bad)
    assert os.listdir(store.root) == []


def test_uppercase_and_hex_ids_name_the_same_blob(store: BlobStore) -> None:
    store.write_stream(IMAGE.upper(), [b"x"], max_size=10)
    assert store.exists(IMAGE.replace("-", ""))
    assert store.list_ids() == [IMAGE]
