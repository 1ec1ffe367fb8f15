"""Prometheus metrics: what each process counts, and the `/metrics` endpoint of the API.

Counters and histograms live in the process that does the work (API requests and validation in
the API; deliveries and Chorus calls where they happen, usually the worker, which serves them on
`OUTBOX_METRICS_PORT`). Gauges that describe shared state (outbox depth, invoices by status)
are read from the database at scrape time, so every API process reports the same truth.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
VALIDATION_FAILURES = Counter(
    "gateway_validation_failures_total", "Invoice problems reported to clients.", ["code"]
)
DELIVERIES = Counter(
    "gateway_deliveries_total",
    "Delivery attempts to Chorus Pro by outcome class.",
    ["outcome"],
)
CHORUS_CALLS = Histogram(
    "gateway_chorus_call_duration_seconds",
    "Chorus Pro (PISTE) call latency.",
    ["endpoint", "outcome"],
    buckets=LATENCY_BUCKETS,
)
CHORUS_ERRORS = Counter(
    "gateway_chorus_errors_total",
    "Failed Chorus Pro calls by endpoint and class.",
    ["endpoint", "error"],
)
OUTBOX_PENDING = Gauge("gateway_outbox_pending", "Outbox items waiting, by kind.", ["kind"])
OUTBOX_FAILED = Gauge("gateway_outbox_failed", "Outbox items given up, by kind.", ["kind"])
OUTBOX_OLDEST_AGE = Gauge(
    "gateway_outbox_oldest_due_age_seconds", "Age of the oldest due outbox item, by kind.", ["kind"]
)
INVOICES = Gauge("gateway_invoices", "Invoices by gateway status.", ["status"])
