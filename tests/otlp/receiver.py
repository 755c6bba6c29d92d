#!/usr/bin/env python3
"""An OTLP/HTTP receiver for the tests: what an OpenTelemetry Collector would take from certless,
decoded with OpenTelemetry's own protobuf definitions (the `opentelemetry-proto` package) and kept
in memory as a flat summary that every host's test can assert on.

    python3 tests/otlp/receiver.py --port-file F     # prints and writes its port; runs until killed
    python3 tests/otlp/receiver.py --self-test       # a short check of this file, then exits

Routes (127.0.0.1 only):

- `POST /v1/metrics`, `POST /v1/traces`: an `Export{Metrics,Trace}ServiceRequest` as
  `application/x-protobuf` (or `application/protobuf`), or as `application/json` in the OTLP JSON
  mapping (ids in hex); `Content-Encoding: gzip` is understood. Answered 200 with an empty
  `Export*ServiceResponse` in the request's encoding; another content type is answered 415, a body
  that does not decode 400, another path 404, and each of those is recorded under `errors`.
- `GET /received`: `{"metrics": [...], "spans": [...], "errors": [...], "requests": [...]}`, in the
  order received, one metric or span per line (so a C or C# test can scan lines). `?name=N`
  (repeatable) keeps the metrics and spans named N. `DELETE /received` forgets everything.

A metric: `{"resource": {attr: value}, "scope", "scope_version", "name", "description", "unit",
"type": "sum"|"gauge"|"histogram"|"exponential_histogram"|"summary", "monotonic" (sums; else null),
"temporality": "cumulative"|"delta"|"unspecified" (null for gauges and summaries), "points": [...]}`;
a point of a sum or gauge is `{"attributes", "value", "start_ns", "time_ns"}`, of a histogram
`{"attributes", "count", "sum", "min", "max", "bucket_counts", "explicit_bounds", ...}` (`sum`,
`min`, `max` null when absent). A span: `{"resource", "scope", "scope_version", "trace_id",
"span_id", "parent_span_id" ("" for a root), "name", "kind" ("INTERNAL", "CLIENT", ...),
"start_ns", "end_ns", "attributes", "status" ("UNSET"|"OK"|"ERROR"), "status_message", "events"}`.
Attribute values are JSON strings, integers, booleans and numbers (arrays and maps nest; bytes
become hex). A request: `{"method", "path", "content_type", "status", "headers"}`.

Used in-process too: `Receiver().start()` (Python's suite), `.url`, `.received()`, `.clear()`, `.stop()`.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# Bodies larger than this are refused (a test exports kilobytes).
MAX_BODY = 16 * 1024 * 1024

PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPE = "application/json"


# ----------------------------------------------------------------------------------------------
# Flattening the OTLP messages


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(pairs: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        out[pair.key] = any_value(pair.value)
    return out


def temporality(value: int) -> str:
    return {
        metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE: "cumulative",
        metrics_pb2.AGGREGATION_TEMPORALITY_DELTA: "delta",
    }.get(value, "unspecified")


def number_point(point: metrics_pb2.NumberDataPoint) -> Dict[str, Any]:
    kind = point.WhichOneof("value")
    return {
        "attributes": attributes(point.attributes),
        "value": getattr(point, kind) if kind else None,
        "start_ns": point.start_time_unix_nano,
        "time_ns": point.time_unix_nano,
    }


def distribution(point: Any) -> Dict[str, Any]:
    """What a histogram's and an exponential histogram's points share: `sum`, `min` and `max`
    are optional in OTLP, and None when absent."""
    optional = lambda name: getattr(point, name) if point.HasField(name) else None  # noqa: E731
    return {
        "attributes": attributes(point.attributes),
        "count": point.count,
        "sum": optional("sum"),
        "min": optional("min"),
        "max": optional("max"),
        "start_ns": point.start_time_unix_nano,
        "time_ns": point.time_unix_nano,
    }


def histogram_point(point: metrics_pb2.HistogramDataPoint) -> Dict[str, Any]:
    return {
        **distribution(point),
        "bucket_counts": list(point.bucket_counts),
        "explicit_bounds": list(point.explicit_bounds),
    }


def exponential_point(point: metrics_pb2.ExponentialHistogramDataPoint) -> Dict[str, Any]:
    return {**distribution(point), "scale": point.scale, "zero_count": point.zero_count}


def summary_point(point: metrics_pb2.SummaryDataPoint) -> Dict[str, Any]:
    return {
        "attributes": attributes(point.attributes),
        "count": point.count,
        "sum": point.sum,
        "quantiles": {str(q.quantile): q.value for q in point.quantile_values},
        "start_ns": point.start_time_unix_nano,
        "time_ns": point.time_unix_nano,
    }


def flatten_metrics(request: ExportMetricsServiceRequest) -> List[Dict[str, Any]]:
    out = []
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                entry: Dict[str, Any] = {
                    "resource": resource,
                    "scope": scope_metrics.scope.name,
                    "scope_version": scope_metrics.scope.version,
                    "name": metric.name,
                    "description": metric.description,
                    "unit": metric.unit,
                    "type": kind,
                    "monotonic": None,
                    "temporality": None,
                    "points": [],
                }
                if kind == "sum":
                    entry["monotonic"] = metric.sum.is_monotonic
                    entry["temporality"] = temporality(metric.sum.aggregation_temporality)
                    entry["points"] = [number_point(p) for p in metric.sum.data_points]
                elif kind == "gauge":
                    entry["points"] = [number_point(p) for p in metric.gauge.data_points]
                elif kind == "histogram":
                    entry["temporality"] = temporality(metric.histogram.aggregation_temporality)
                    entry["points"] = [histogram_point(p) for p in metric.histogram.data_points]
                elif kind == "exponential_histogram":
                    entry["temporality"] = temporality(metric.exponential_histogram.aggregation_temporality)
                    entry["points"] = [exponential_point(p) for p in metric.exponential_histogram.data_points]
                elif kind == "summary":
                    entry["points"] = [summary_point(p) for p in metric.summary.data_points]
                out.append(entry)
    return out


def span_kind(value: int) -> str:
    # SPAN_KIND_INTERNAL -> INTERNAL; an unknown number stays visible as such.
    try:
        return trace_pb2.Span.SpanKind.Name(value).replace("SPAN_KIND_", "")
    except ValueError:
        return str(value)


def status_code(value: int) -> str:
    try:
        return trace_pb2.Status.StatusCode.Name(value).replace("STATUS_CODE_", "")
    except ValueError:
        return str(value)


def flatten_spans(request: ExportTraceServiceRequest) -> List[Dict[str, Any]]:
    out = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append(
                    {
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                        "scope_version": scope_spans.scope.version,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span_kind(span.kind),
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "attributes": attributes(span.attributes),
                        "status": status_code(span.status.code),
                        "status_message": span.status.message,
                        "events": [{"name": e.name, "attributes": attributes(e.attributes)} for e in span.events],
                    }
                )
    return out


# ----------------------------------------------------------------------------------------------
# Decoding a request body

# The OTLP JSON mapping writes trace and span ids as hex, where protobuf's JSON mapping expects
# base64 for bytes fields: these keys are converted before json_format reads the message.
ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ID_KEYS and isinstance(value, str):
                out[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                out[key] = hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [hex_ids_to_base64(v) for v in node]
    return node


def decode(body: bytes, content_type: str, message: Message) -> None:
    if content_type == JSON_TYPE:
        # Unknown fields are ignored, as the OTLP specification asks of receivers.
        json_format.ParseDict(hex_ids_to_base64(json.loads(body)), message, ignore_unknown_fields=True)
    else:
        message.ParseFromString(body)


ROUTES: Dict[str, Tuple[Callable[[], Message], Callable[[], Message], str]] = {
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse, "metrics"),
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse, "spans"),
}


# ----------------------------------------------------------------------------------------------
# The server


class Store:
    """What arrived; one lock, as requests are handled on a thread each."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.metrics: List[Dict[str, Any]] = []
        self.spans: List[Dict[str, Any]] = []
        self.errors: List[Dict[str, Any]] = []
        self.requests: List[Dict[str, Any]] = []

    def snapshot(self, names: Optional[List[str]] = None) -> Dict[str, List[Dict[str, Any]]]:
        with self.lock:
            keep = (lambda item: item["name"] in names) if names else (lambda item: True)
            return {
                "metrics": [m for m in self.metrics if keep(m)],
                "spans": [s for s in self.spans if keep(s)],
                "errors": list(self.errors),
                "requests": list(self.requests),
            }


def render(summary: Dict[str, List[Dict[str, Any]]]) -> bytes:
    """JSON with each list's items on a line of their own: one metric or one span per line."""
    parts = []
    for key in ("metrics", "spans", "errors", "requests"):
        items = ",\n".join(json.dumps(item, sort_keys=True) for item in summary[key])
        parts.append(f'"{key}": [\n{items}\n]' if items else f'"{key}": []')
    return ("{" + ",\n".join(parts) + "}\n").encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    # Keep-alive: exporters reuse their connection.
    protocol_version = "HTTP/1.1"
    server: "ReceiverServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_json(self, status: int, value: Any) -> None:
        self.answer(status, JSON_TYPE, json.dumps(value).encode("utf-8"))

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError("body too large")
            body = self.rfile.read(length)
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def record(self, status: int, content_type: str) -> None:
        request = {
            "method": self.command,
            "path": self.path,
            "content_type": content_type,
            "status": status,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        with self.server.store.lock:
            self.server.store.requests.append(request)

    def error(self, status: int, content_type: str, message: str) -> None:
        with self.server.store.lock:
            self.server.store.errors.append({"path": self.path, "status": status, "error": message})
        self.record(status, content_type)
        self.answer_json(status, {"error": message})

    def do_POST(self) -> None:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        route = ROUTES.get(urllib.parse.urlsplit(self.path).path)
        try:
            body = self.read_body()
        except (ValueError, OSError, EOFError) as e:
            self.close_connection = True
            self.error(400, content_type, f"unreadable body: {e}")
            return
        if route is None:
            self.error(404, content_type, f"no such path: {self.path} (OTLP/HTTP is /v1/metrics, /v1/traces)")
            return
        if content_type not in PROTOBUF_TYPES and content_type != JSON_TYPE:
            self.error(415, content_type, f"unsupported content type {content_type!r}")
            return
        new_request, new_response, kind = route
        message = new_request()
        try:
            decode(body, content_type, message)
            items = flatten_metrics(message) if kind == "metrics" else flatten_spans(message)  # type: ignore[arg-type]
        except (DecodeError, json_format.ParseError, ValueError, UnicodeDecodeError) as e:
            self.error(400, content_type, f"the body does not decode as {type(message).__name__}: {e}")
            return
        with self.server.store.lock:
            getattr(self.server.store, kind).extend(items)
        self.record(200, content_type)
        if content_type == JSON_TYPE:
            self.answer(200, JSON_TYPE, json_format.MessageToJson(new_response()).encode("utf-8"))
        else:
            self.answer(200, content_type, new_response().SerializeToString())

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/received":
            self.answer_json(404, {"error": f"no such path: {url.path}"})
            return
        names = urllib.parse.parse_qs(url.query).get("name")
        self.answer(200, JSON_TYPE, render(self.server.store.snapshot(names)))

    def do_DELETE(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/received":
            self.answer_json(404, {"error": f"no such path: {self.path}"})
            return
        with self.server.store.lock:
            self.server.store.clear()
        self.answer_json(200, {})


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, verbose: bool = False) -> None:
        self.store = Store()
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), Handler)


class Receiver:
    """The receiver on a thread of this process (for Python's own tests)."""

    def __init__(self, port: int = 0) -> None:
        self.server = ReceiverServer(port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self, *names: str) -> Dict[str, List[Dict[str, Any]]]:
        return self.server.store.snapshot(list(names) or None)

    def clear(self) -> None:
        with self.server.store.lock:
            self.server.store.clear()

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------------
# A short self-check (no pytest): one request of each kind and encoding, and the refusals.


def self_test() -> None:
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    def kv(key: str, **value: Any) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(**value))

    def post(url: str, body: bytes, content_type: str) -> Tuple[int, bytes]:
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    metrics = ExportMetricsServiceRequest()
    rm = metrics.resource_metrics.add(resource=Resource(attributes=[kv("service.name", string_value="t")]))
    sm = rm.scope_metrics.add(scope=InstrumentationScope(name="MicrosoftIdentityClient_Common_Meter", version="1"))
    m = sm.metrics.add(name="MsalSuccess", unit="1")
    m.sum.is_monotonic = True
    m.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    m.sum.data_points.add(as_int=2, attributes=[kv("TokenSource", string_value="Cache"), kv("ok", bool_value=True)])
    h = sm.metrics.add(name="MsalTotalDuration.1A", unit="ms")
    h.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    h.histogram.data_points.add(count=3, sum=7.5, min=1.0, bucket_counts=[1, 2], explicit_bounds=[5.0])
    trace_json = json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "process.pid", "value": {"intValue": "42"}}]},
                    "scopeSpans": [
                        {
                            "scope": {"name": "certless"},
                            "spans": [
                                {
                                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                                    "spanId": "b7ad6b7169203331",
                                    "parentSpanId": "",
                                    "name": "certless.acquire_token",
                                    "kind": 1,
                                    "startTimeUnixNano": "1",
                                    "endTimeUnixNano": "2",
                                    "status": {"code": 2, "message": "boom"},
                                    "someFutureField": True,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    ).encode()

    with Receiver() as receiver:
        status, body = post(receiver.url + "/v1/metrics", metrics.SerializeToString(), "application/x-protobuf")
        assert status == 200 and ExportMetricsServiceResponse.FromString(body) == ExportMetricsServiceResponse()
        status, body = post(receiver.url + "/v1/traces", trace_json, "application/json; charset=utf-8")
        assert status == 200 and json.loads(body) == {}, (status, body)
        assert post(receiver.url + "/v1/traces", b"\xff\xff", "application/x-protobuf")[0] == 400
        assert post(receiver.url + "/v1/traces", b"{}", "text/plain")[0] == 415
        with urllib.request.urlopen(receiver.url + "/received", timeout=10) as response:
            text = response.read().decode()
        got = json.loads(text)
        assert all(line.startswith(("{", "}", "]", '"')) for line in text.splitlines()), text
        sums = [m for m in got["metrics"] if m["name"] == "MsalSuccess"]
        assert sums[0]["type"] == "sum" and sums[0]["monotonic"] and sums[0]["temporality"] == "cumulative"
        assert sums[0]["points"][0]["value"] == 2
        assert sums[0]["points"][0]["attributes"] == {"TokenSource": "Cache", "ok": True}
        assert sums[0]["resource"] == {"service.name": "t"} and sums[0]["scope_version"] == "1"
        hist = [m for m in got["metrics"] if m["name"] == "MsalTotalDuration.1A"][0]
        assert hist["unit"] == "ms" and hist["temporality"] == "delta"
        assert hist["points"][0]["count"] == 3 and hist["points"][0]["sum"] == 7.5 and hist["points"][0]["max"] is None
        span = got["spans"][0]
        assert span["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and span["span_id"] == "b7ad6b7169203331"
        assert span["parent_span_id"] == "" and span["kind"] == "INTERNAL" and span["status"] == "ERROR"
        assert span["resource"] == {"process.pid": 42}
        assert [e["status"] for e in got["errors"]] == [400, 415], got["errors"]
        assert [r["status"] for r in got["requests"]] == [200, 200, 400, 415]
        assert receiver.received("MsalSuccess")["metrics"] == sums
        receiver.clear()
        assert receiver.received() == {"metrics": [], "spans": [], "errors": [], "requests": []}
    print("otlp receiver: self-test passed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--port-file", help="write the port here once listening (written whole, then renamed)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument("--self-test", action="store_true", help="check this receiver and exit")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return
    server = ReceiverServer(args.port, args.verbose)
    port = server.server_address[1]
    if args.port_file:
        # Whole or absent: a reader polling for the file never sees half a number.
        partial = f"{args.port_file}.{os.getpid()}.tmp"
        with open(partial, "w") as f:
            f.write(f"{port}\n")
        os.replace(partial, args.port_file)
    print(f"otlp receiver listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
