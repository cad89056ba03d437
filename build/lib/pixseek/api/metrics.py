"""Prometheus metrics (prometheus_client, one registry per app): requests, latencies, index size."""
from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the route)
from starlette.routing import Match

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    def __init__(self, sizes: Callable[[], tuple[int, int, int]]):
        """``sizes()`` -> (files, vectors, index ntotal), read at scrape time."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("pixseek_http_requests_total", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("pixseek_http_request_duration_seconds", "HTTP request latency by route.",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("pixseek_http_requests_in_flight", "Requests being served.", registry=self.registry)
        self.search_seconds = Histogram("pixseek_search_seconds", "Time in the search service (decode, encode, index).",
                                        ["kind"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.thumbs_generated = Counter("pixseek_thumbnails_generated_total", "Thumbnails generated (cache misses).",
                                        registry=self.registry)
        files = Gauge("pixseek_catalog_files", "Files in the catalog.", registry=self.registry)
        vectors = Gauge("pixseek_catalog_vectors", "Vectors in the catalog.", registry=self.registry)
        ntotal = Gauge("pixseek_index_vectors", "Vectors in the search index.", registry=self.registry)
        files.set_function(lambda: sizes()[0])
        vectors.set_function(lambda: sizes()[1])
        ntotal.set_function(lambda: sizes()[2])

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_template(app, scope) -> str:
    """The route's path template (``/api/items/{item_id}``), so labels stay bounded."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", "other")
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app, metrics: ApiMetrics, router_app):
        self.app = app
        self.metrics = metrics
        self.router_app = router_app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = route_template(self.router_app, scope)
        status = {"code": 500}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.latency.labels(route, scope["method"]).observe(time.perf_counter() - t0)
            self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
