"""`/metrics` in Prometheus text: request counts and latencies, plus store gauges read at scrape.

A registry per app (not the global one), so several apps in one process (tests) stay apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from accord.store.db import Database
from accord.store.models import AcceleratorRequest, Device, Host, Operation


class StoreCollector(Collector):
    """Counts by state straight from the database, so every replica reports the same truth."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registering asks for the names; without this it would query, and an app could not be
        # built while the database is down.
        for name in ("accord_arqs", "accord_devices", "accord_hosts", "accord_operations"):
            yield GaugeMetricFamily(name, name, labels=["state"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queries: list[tuple[str, str, Any, Any]] = [
            ("accord_arqs", "Accelerator requests by state", AcceleratorRequest.state, AcceleratorRequest),
            ("accord_devices", "Devices by status", Device.status, Device),
            ("accord_hosts", "Hosts by state", Host.state, Host),
            ("accord_operations", "Operations by state", Operation.state, Operation),
        ]
        with self.db.read() as session:
            for name, doc, column, table in queries:
                family = GaugeMetricFamily(name, doc, labels=["state"])
                for state, count in session.execute(
                    select(column, func.count()).select_from(table).group_by(column)
                ):
                    family.add_metric([str(state)], float(count))
                yield family


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "accord_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "accord_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.registry.register(StoreCollector(db))
        # The labelled children, found once per label set: `labels()` takes a lock and
        # validates its arguments on every call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request answered (`api/middleware.py` calls this once per HTTP request)."""
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self.requests.labels(method, route, str(status))
            self._counters[(method, route, status)] = counter
        counter.inc()
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        histogram.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
