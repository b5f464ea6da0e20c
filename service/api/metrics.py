"""Prometheus metrics at /metrics: request counts and latency by route (counted by the security
middleware, security.py), requests refused for size or rate, and the index's and the
moderation queue's size, read when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _StateCollector(Collector):
    """Index size and queue length, read when Prometheus scrapes (never stale, no timer)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = getattr(self.app.state, "erfa", None)
        index = getattr(state, "index", None)
        ready = GaugeMetricFamily("erfa_ready", "1 when the model and index are loaded")
        ready.add_metric([], 1.0 if index is not None else 0.0)
        yield ready
        if index is not None:
            projects = GaugeMetricFamily("erfa_index_projects", "Projects in the registry (searchable)")
            try:
                projects.add_metric([], float(index.count()))
                yield projects
            except Exception:  # a busy database must not break the scrape
                pass
        subs = getattr(state, "submissions", None)
        if subs is not None:
            pending = GaugeMetricFamily("erfa_submissions_pending", "Submissions waiting for a moderator")
            try:
                pending.add_metric([], float(subs.count("pending")))
                yield pending
            except Exception:
                pass


class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self, app: FastAPI) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated; the *_created series double the output and say nothing an operator needs
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "erfa_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "erfa_http_request_duration_seconds",
            "Time to answer, by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.limited = Counter(
            "erfa_rate_limited", "Requests refused with 429, by bucket", ["bucket"], registry=self.registry
        )
        self.too_large = Counter("erfa_request_too_large", "Requests refused with 413", registry=self.registry)
        self.registry.register(_StateCollector(app))

    def render(self) -> bytes:
        return generate_latest(self.registry)
