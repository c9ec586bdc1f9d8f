"""Prometheus metrics of the HTTP API: requests, latency, snapshot age and generation.

Counters and the histogram live in prometheus_client's multiprocess files when
PROMETHEUS_MULTIPROC_DIR is set (the `serve` command sets it for several workers), so one
scrape sums every worker. Snapshot age and generation are read at scrape time.
"""

from __future__ import annotations

import os
import time

import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from profile_assets.serving.lookup import SnapshotReader
from profile_assets.serving.snapshot import read_meta

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)


class _SnapshotCollector:
    """Age (seconds since the live snapshot was last written) and generation, per scrape."""

    def __init__(self, reader: SnapshotReader):
        self.reader = reader

    def collect(self):
        age = GaugeMetricFamily(
            "profile_assets_snapshot_age_seconds", "Seconds since the live snapshot was written."
        )
        generation = GaugeMetricFamily(
            "profile_assets_snapshot_generation", "Generation of the live snapshot (CURRENT)."
        )
        path = self.reader.path
        if path is not None:
            written = pd.Timestamp(read_meta(path)["written_at"]).timestamp()
            age.add_metric([], time.time() - written)
            generation.add_metric([], self.reader.generation)
        yield age
        yield generation


class Metrics:
    """The API's instruments; `observe` is on the hot path (cached label children)."""

    def __init__(self, reader: SnapshotReader):
        self._multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "profile_assets_http_requests", "HTTP requests served.", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self._latency = Histogram(
            "profile_assets_http_request_seconds", "Time to answer a request.", ["route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._snapshot = _SnapshotCollector(reader)
        self._children: dict[tuple[str, int], tuple] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        children = self._children.get((route, status))
        if children is None:
            children = (self._requests.labels(route, str(status)), self._latency.labels(route))
            self._children[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        if self._multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        else:
            registry = self.registry
        return generate_latest(registry) + generate_latest(_Only(self._snapshot))


class _Only(CollectorRegistry):
    """A registry holding one collector (for the per-scrape snapshot gauges)."""

    def __init__(self, collector):
        super().__init__(auto_describe=False)
        self.register(collector)
