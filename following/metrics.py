"""Prometheus metrics shared by every service, and the `/metrics` HTTP endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Histogram, start_http_server

RPC_HANDLED = Counter(
    "grpc_server_handled_total", "RPCs completed, by method and status code", ["service", "method", "code"]
)
RPC_LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time to handle an RPC",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


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
