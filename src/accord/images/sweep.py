"""Sweep what a crash can leave in the blob store: temporary files of uploads that died, and
complete blobs no image row names (an upload staged its bytes, then the server died before the
rename or the image was deleted before its bytes). Only files older than `min_age_s` go, so an
upload in progress is never touched."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from accord.images.blobstore import BlobStore

log = logging.getLogger(__name__)


def sweep_blobs(store: BlobStore, known_ids: Callable[[], set[str]], min_age_s: float = 3600.0) -> list[str]:
    removed = store.remove_stale_temp_files(min_age_s)
    known = known_ids()
    cutoff = time.time() - min_age_s
    orphans = []
    for blob_id in store.list_ids():
        if blob_id in known:
            continue
        try:
            if store.path(blob_id).stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        store.delete(blob_id)
        orphans.append(blob_id)
    if removed or orphans:
        log.info("blob store: removed %d stale temp files and %d orphan blobs", removed, len(orphans))
    return orphans
