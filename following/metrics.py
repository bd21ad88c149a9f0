"""Prometheus metrics shared by every service, and the `/metrics` HTTP endpoint.

The RPC metrics carry the grpc-ecosystem interceptors' names and labels (`grpc_type`, `grpc_service` — the full
protobuf service name —, `grpc_method`, `grpc_code`), so stock dashboards and alerts apply, and none collides with
the `service`/`namespace`/`pod` target labels Prometheus adds when it scrapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
RPC_HANDLED = Counter(
    "grpc_server_handled_total", "RPCs completed, by method and status code", [*RPC_LABELS, "grpc_code"]
)
RPC_LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time to handle an RPC",
    RPC_LABELS,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# Started and not yet answered: the load signal of an I/O-bound service (the creator's autoscaler reads it), where CPU
# stays low while calls wait on Instagram, the database or inference.
RPC_IN_FLIGHT = Gauge("grpc_server_in_flight_requests", "RPCs being handled now", RPC_LABELS)


@dataclass
class MetricsEndpoint:
    """A running `/metrics` HTTP server (prometheus_client's, in a daemon thread)."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(host: str, port: int) -> MetricsEndpoint:
    server, thread = start_http_server(port, addr=host)
    return MetricsEndpoint(server, thread)
