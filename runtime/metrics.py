"""CloudWatch metrics as Embedded Metric Format log lines: CloudWatch Logs extracts them from the
function's own log group, so publishing a metric needs no extra AWS call and no extra permission."""

from __future__ import annotations

import time
from collections.abc import Mapping

from .logging_config import get_logger
from .record_codec import RecordUnparseable
from .redaction import contains_pan
from .settings import environment_name

NAMESPACE = "Payments/Reconciler"
# Records the runtime wrote and cannot read back: a platform bug, alarmed (plugins/api/plugin.py).
RECORDS_NAMESPACE = "Payments/Records"
UNPARSEABLE_RECORDS = "UnparseableRecords"


def emf_timestamp(now_ms: int) -> int:
    """``now_ms``, moved back by the few milliseconds it takes to stop looking like a PAN: the log
    redaction masks any Luhn-valid 13-digit number, which would cost the line its metrics."""
    while contains_pan(str(now_ms)):
        now_ms -= 1
    return now_ms


def put_metrics(
    event: str,
    values: Mapping[str, int | float],
    units: Mapping[str, str],
    now_ms: int | None = None,
    namespace: str = NAMESPACE,
) -> None:
    """One log line ``event`` carrying ``values`` as metrics of NAMESPACE, dimension Environment."""
    timestamp = emf_timestamp(now_ms if now_ms is not None else int(time.time() * 1000))
    get_logger().info(
        event,
        _aws={
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["Environment"]],
                    "Metrics": [{"Name": name, "Unit": units[name]} for name in sorted(values)],
                }
            ],
        },
        Environment=environment_name(),
        **dict(values),
    )


def report_unparseable_record(error: RecordUnparseable, reader: str) -> None:
    """Loud: a critical log line naming the record and the field (never its values) and one
    ``UnparseableRecords`` metric, which pages through its alarm. Never a silent skip."""
    get_logger().critical(
        "record.unparseable", reader=reader, record_key=error.record_key, field=error.field, reason=error.reason
    )
    put_metrics(
        "record.unparseable", {UNPARSEABLE_RECORDS: 1}, {UNPARSEABLE_RECORDS: "Count"}, namespace=RECORDS_NAMESPACE
    )
