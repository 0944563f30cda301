"""What a crash leaves in the blob store is swept; nothing in use or in progress is."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from accord.images.blobstore import BlobStore
from accord.images.sweep import sweep_blobs


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_orphans_and_dead_temp_files_go_the_rest_stays(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    kept, orphan, fresh_orphan = (str(uuid.uuid4()) for _ in range(3))
    for blob in (kept, orphan, fresh_orphan):
        store.write_stream(blob, [b"bytes"], 100)
    age(store.path(kept), 7200)
    age(store.path(orphan), 7200)
    dead_temp = tmp_path / ".upload-crashed.part"
    dead_temp.write_bytes(b"half an image")
    age(dead_temp, 7200)
    live_temp = tmp_path / ".upload-running.part"
    live_temp.write_bytes(b"an upload in progress")

    removed = sweep_blobs(store, lambda: {kept}, min_age_s=3600)

    assert removed == [orphan]
    assert store.exists(kept)
    assert store.exists(fresh_orphan)  # young: may be an upload about to be renamed into place
    assert not dead_temp.exists()
    assert live_temp.exists()
