"""One logging setup for every long-running command."""

from __future__ import annotations

import logging


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: the agent polls every few seconds, so keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
