"""Prometheus metrics, on a registry owned by the container (no module-level globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ws_connections = Gauge(
            "hushroom_ws_connections",
            "Open authenticated WebSocket connections",
            registry=self.registry,
        )
        self.messages_sent = Counter(
            "hushroom_messages_sent_total", "Messages stored", ["kind"], registry=self.registry
        )
        self.send_latency = Histogram(
            "hushroom_send_seconds",
            "Time from receiving a send to its ack (includes the commit)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.send_batch_size = Histogram(
            "hushroom_send_batch_size",
            "Sends stored per transaction (group commit)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.gc_pauses = Histogram(
            "hushroom_gc_pause_seconds",
            "Garbage-collector pauses (nothing else runs meanwhile)",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.http_requests = Counter(
            "hushroom_http_requests_total",
            "HTTP requests",
            ["method", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "hushroom_errors_total", "Errors returned to clients", ["code"], registry=self.registry
        )
        self.ws_closes = Counter(
            "hushroom_ws_closes_total", "WebSocket closes by code", ["code"], registry=self.registry
        )
        self.wire_direct_writes = Gauge(
            "hushroom_wire_direct_writes",
            "1: WebSocket frames are written straight to the transport (gateway/wire.py); "
            "0: the start-up self-check fell back to plain ASGI sends",
            registry=self.registry,
        )
