"""`accord up`: the embedded all-in-one — server plus a local agent in one process."""

from __future__ import annotations

import logging

import typer
import uvicorn

from accord.api.app import create_app
from accord.config import Settings


def run_up(settings: Settings, demo: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    typer.echo(f"Accord listening on http://{settings.address}:{settings.port}")
    typer.echo(f"data directory: {settings.data_dir} (database {settings.effective_database_url})")
    uvicorn.run(app, host=settings.address, port=settings.port, log_level="warning")
