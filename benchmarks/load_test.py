"""Load and concurrency, checked -- not just timed -- against the local deployment (emulator-bound).

    .venv/bin/python benchmarks/load_test.py [--users 100] [--seconds 60] [--reserved-concurrency 8] [--keep-logs DIR]

1. `local up` (its own code) of the `local` environment, the api functions' reserved concurrency
   raised to --reserved-concurrency through a temporary copy of environments.toml (the file is
   not touched): each container is a Python process, and this machine has 2 cores;
2. a temporary queue subscribed to the notifications topic (the topic's own subscriber is e-mail);
3. one sequential client first (plugins/api/local_checks.py sequential_client: one keep-alive connection,
   20 × a new payment, its replay and 8 invalid bodies): its answers and its request rate, as a
   person or a black-box check would meet them -- a 429 fails the run; then locust, headless, --users concurrent clients for --seconds against the loopback gateway:
   new payments, immediate replays, conflicting keys, status reads (benchmarks/load_locustfile.py);
4. waits for a run of the transaction reconciler that started after the load (local schedule,
   every minute);
5. each API function's duration, p50 / p99, from its REPORT lines in /aws/lambda/<name> (the local
   Lambda service writes ``Duration`` from the invoke handing the event to the container until its
   runtime posts the result, as Lambda reports it: no gateway, no HTTP round trip, no init -- cold
   starts are counted apart with their ``Init Duration``), printed under "function durations";
6. checks: no unintended 5xx (a 500 that is API Gateway's answer to a throttled Lambda and a 503
   with Retry-After are counted apart), one transaction per idempotency key, every replay the
   original transaction, every 201 with exactly one audit message and one event id, nothing
   stranded, no PAN/CVC in responses, table, messages, events or function logs;
7. `local down`, whatever happened (--keep-logs first copies the run's gateway, emulator and
   terraform logs to DIR). Exit 0 when every check passes, 1 when one fails.

Loopback only; bounded by --seconds (locust is killed 60 s after it should have stopped).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

UNINTENDED_5XX = ("500", "502", "504")
RECONCILER_WAIT_S = 150
# A request's lease is at most 30 s (runtime/idempotency.py): a reconciler run starting later
# sees every dispatch the load left unfinished.
LEASE_BOUND_MS = 31_000


def raised_concurrency_config(directory: Path, reserved: int) -> Path:
    text = (REPO / "environments.toml").read_text()
    block = "[environments.local.settings.api]\n"
    head, tail = text.split(block, 1)
    lines = tail.split("\n")
    lines = [
        f"reserved_concurrency = {reserved}" if line.startswith("reserved_concurrency") else line for line in lines
    ]
    path = directory / "environments.toml"
    path.write_text(head + block + "\n".join(lines))
    return path


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    empty = 0
    while empty < 3:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        empty = 0 if batch else empty + 1
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items, start = [], None
    while True:
        page = dynamodb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def archived_audits(s3: Any, bucket: str) -> list[tuple[str, str]]:
    """(transaction id, body) of every archived audit message: ``audit/YYYY/MM/DD/<transaction_id>/...``."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="audit/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            found.append((item["Key"].split("/")[4], body))
    return found


def log_messages(logs: Any, group: str, since_ms: int = 0) -> list[str]:
    messages, token = [], None
    while True:
        page = logs.filter_log_events(logGroupName=group, startTime=since_ms, **({"nextToken": token} if token else {}))
        messages += [event["message"] for event in page["events"]]
        token = page.get("nextToken")
        if not token or not page["events"]:
            return messages


_REPORT = re.compile(
    r"^REPORT RequestId: \S+\tDuration: (?P<duration>[0-9.]+) ms\t.*?(?:Init Duration: (?P<init>[0-9.]+) ms)?$"
)
API_FUNCTIONS = ("transaction-processor", "status-checker")


def durations(messages: list[str]) -> dict[str, Any]:
    """p50 / p99 of the Duration of a function's REPORT lines (Lambda's own measure of an invocation,
    init excluded), with how many invocations and cold starts they cover."""
    found, inits = [], []
    for message in messages:
        match = _REPORT.match(message.rstrip("\n"))
        if match:
            found.append(float(match["duration"]))
            if match["init"]:
                inits.append(float(match["init"]))
    if len(found) < 2:
        return {"invocations": len(found)}
    cuts = statistics.quantiles(found, n=100, method="inclusive")
    figures = {
        "invocations": len(found),
        "p50_ms": round(cuts[49], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(found), 1),
        "cold_starts": len(inits),
    }
    if inits:
        figures["init_p50_ms"] = round(statistics.median(inits), 1)
    return figures


def sequential_figures(answers: list[Any]) -> dict[str, Any]:
    """Per kind of request: how many, the statuses, and the median time each took (one at a time)."""
    figures: dict[str, Any] = {}
    for kind in ("payment", "replay", "invalid"):
        mine = [a for a in answers if a.kind == kind]
        figures[kind] = {
            "requests": len(mine),
            "statuses": dict(Counter(a.status for a in mine)),
            "median_ms": round(statistics.median(a.seconds for a in mine) * 1000, 1),
            "rate_one_at_a_time_rps": round(len(mine) / sum(a.seconds for a in mine), 1),
        }
    figures["429"] = sum(1 for a in answers if a.status == 429)
    return figures


def wait_for_reconciler(logs: Any, group: str, after_ms: int) -> dict[str, Any] | None:
    deadline = time.monotonic() + RECONCILER_WAIT_S
    while time.monotonic() < deadline:
        for message in log_messages(logs, group, after_ms):
            if message.startswith("{") and '"reconciler.summary"' in message:
                return json.loads(message)
        time.sleep(5)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--reserved-concurrency", type=int, default=8)
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the run's logs (gateway, emulator, terraform) here")
    args = parser.parse_args()

    from payments_platform.core.local.lifecycle import down, up
    from payments_platform.core.local.processes import emulator_client
    from payments_platform.core.local.run_record import LocalRun
    from payments_platform.plugins.api.local_checks import items_hold_card_data, sequential_client
    from payments_platform.runtime.redaction import contains_card_data as holds_card_data

    failures: list[str] = []
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="load-test-") as scratch:
        scratch_dir = Path(scratch)
        run = LocalRun(scratch_dir / ".payments-local", say=print)
        try:
            record = up(run, config_path=str(raised_concurrency_config(scratch_dir, args.reserved_concurrency)))
            if urlparse(record.url).hostname not in ("127.0.0.1", "localhost", "::1"):
                raise SystemExit(f"refusing to load a non-loopback URL: {record.url}")

            def client(service: str) -> Any:
                return emulator_client(service, record.endpoint, record.region)

            processor = client("lambda").get_function_configuration(
                FunctionName=f"transaction-processor-{record.suffix}"
            )
            variables = processor["Environment"]["Variables"]
            sqs, sns = client("sqs"), client("sns")
            tap = sqs.create_queue(QueueName=f"load-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(
                TopicArn=variables["NOTIFICATIONS_TOPIC_ARN"],
                Protocol="sqs",
                Endpoint=tap_arn,
                Attributes={"RawMessageDelivery": "true"},
            )

            sequential = sequential_client(record.url, sorted(record.api_keys.values())[0])
            figures["sequential client"] = sequential_figures(sequential)
            if any(answer.status == 429 for answer in sequential):
                failures.append(f"a sequential client met 429: {figures['sequential client']}")

            results_file = scratch_dir / "locust-results.json"
            started_ms = int(time.time() * 1000)
            locust = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(REPO / "benchmarks" / "load_locustfile.py"),
                    "--headless",
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(args.users),
                    "--run-time",
                    f"{args.seconds}s",
                    "--host",
                    record.url,
                    "--only-summary",
                    "--stop-timeout",
                    "10",
                    "--exit-code-on-error",
                    "0",
                ],
                env={
                    **os.environ,
                    "LOAD_API_KEYS": ",".join(sorted(record.api_keys.values())),
                    "LOAD_RESULTS": str(results_file),
                },
                capture_output=True,
                text=True,
                timeout=args.seconds + 60,
            )
            load_ended_ms = int(time.time() * 1000)
            if not results_file.exists():
                raise SystemExit(f"locust wrote no results:\n{locust.stdout[-3000:]}\n{locust.stderr[-3000:]}")
            result = json.loads(results_file.read_text())
            print(locust.stdout[-4000:])

            logs = client("logs")
            summary = wait_for_reconciler(
                logs, f"/aws/lambda/transaction-reconciler-{record.suffix}", load_ended_ms + LEASE_BOUND_MS
            )
            if summary is None:
                failures.append(f"no reconciler run within {RECONCILER_WAIT_S} s after the load")
            figures["reconciler run after the load"] = summary and {
                k: summary.get(k) for k in ("stranded", "reconciled", "failed", "quarantined")
            }

            outcomes: dict[str, int] = result["outcomes"]
            figures.update(
                users=args.users,
                seconds=args.seconds,
                reserved_concurrency=args.reserved_concurrency,
                requests=result["requests"],
                throughput_rps=round(result["rps"], 1),
                p50_ms=result["p50_ms"],
                p95_ms=result["p95_ms"],
                p99_ms=result["p99_ms"],
                by_name=result["by_name"],
                outcomes=outcomes,
            )
            unintended = {
                k: v for k, v in outcomes.items() if k.split("|")[1] in UNINTENDED_5XX or k.split("|")[1] == "0"
            }
            if unintended:
                failures.append(f"unintended 5xx or connection failures: {unintended}")
            # Capacity answers (429/503 with Retry-After) are expected: 100 users are far more at once than
            # 8 containers, or a client's usage-plan burst of 4.
            capacity = {"503 retry-after", "429 retry-after", "500 throttled"}
            expected = {
                "new payment": {"201", *capacity},
                "immediate replay": {"201", "409", *capacity},
                "conflicting key": {"422", "409", *capacity},
                "status read": {"200", *capacity},
            }
            unexpected = {k: v for k, v in outcomes.items() if k.split("|")[1] not in expected[k.split("|")[0]]}
            if unexpected:
                failures.append(f"unexpected answers: {unexpected}")
            if result["card_data_seen"]:
                failures.append(f"card data in responses: {Counter(result['card_data_seen'])}")

            created: dict[str, str] = result["created"]
            for key, transaction_id in result["replayed"]:
                if created.get(key) != transaction_id:
                    failures.append(f"a replay answered {transaction_id}, not the original {created.get(key)}")

            items = scan(client("dynamodb"), variables["TRANSACTIONS_TABLE_NAME"])
            transactions = [i for i in items if i.get("record_type", {}).get("S") == "transaction"]
            per_record = Counter(i["idempotency_record_id"]["S"] for i in transactions)
            doubled = {k: n for k, n in per_record.items() if n > 1}
            if doubled:
                failures.append(f"{len(doubled)} idempotency keys with more than one transaction")
            stranded = [i for i in items if "dispatch_pending" in i and int(i["lease_expires_at"]["N"]) < load_ended_ms]
            if stranded:
                failures.append(f"{len(stranded)} dispatches still stranded after the reconciler ran")
            if items_hold_card_data(items):
                failures.append("the table holds card data")

            # The audit archiver (audit plugin) moves the audit queue into the archive bucket as it fills:
            # an audit message is an archived object, or one still queued.
            archiver = client("lambda").get_function_configuration(FunctionName=f"audit-archiver-{record.suffix}")
            archived = archived_audits(client("s3"), archiver["Environment"]["Variables"]["ARCHIVE_BUCKET_NAME"])
            audit_bodies = drain(sqs, variables["AUDIT_QUEUE_URL"])
            event_bodies = drain(sqs, tap)
            audits = Counter(json.loads(b)["transaction_id"] for b in audit_bodies)
            audits.update(transaction_id for transaction_id, _ in archived)
            audit_bodies += [body for _, body in archived]
            events = Counter(json.loads(b)["event_id"] for b in event_bodies)
            stored = {i["transaction_id"]["S"] for i in transactions}
            for transaction_id in set(created.values()) | stored:
                if audits[transaction_id] != 1:
                    failures.append(f"{transaction_id}: {audits[transaction_id]} audit messages")
                if events[transaction_id] < 1:
                    failures.append(f"{transaction_id}: no event")
            figures.update(
                transactions_stored=len(stored),
                created_201=len(created),
                replays_201=len(result["replayed"]),
                audit_messages=len(audit_bodies),
                events=len(event_bodies),
                distinct_event_ids=len(events),
            )
            if any(holds_card_data(b) for b in audit_bodies + event_bodies):
                failures.append("an audit message or event holds card data")
            for function in ("transaction-processor", "status-checker", "transaction-reconciler"):
                group = f"/aws/lambda/{function}-{record.suffix}"
                messages = log_messages(logs, group, started_ms)
                if function in API_FUNCTIONS:
                    figures.setdefault("function durations", {})[function] = durations(
                        [m for m in messages if m.startswith("REPORT")]
                    )
                if any(holds_card_data(m) for m in messages):
                    failures.append(f"{group} holds card data")
                errors = [m for m in messages if '"level":"error"' in m or '"level":"critical"' in m]
                figures[f"{function} error log lines"] = len(errors)
                for line in errors[:3]:
                    print(f"[{function}] {line[:600]}")
            if failures:
                # The gateway's own failures (an exception in the local gateway answers a bare 500).
                gateway_log = (run.run_dir / "gateway.log").read_text(errors="replace").splitlines()
                for number, line in enumerate(gateway_log):
                    if line.startswith("Traceback") or "Exception in ASGI application" in line:
                        print("\n".join(gateway_log[number : number + 25]))
                        break
        finally:
            if args.keep_logs:
                Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
                for log in run.run_dir.glob("*.log"):
                    shutil.copy(log, Path(args.keep_logs) / log.name)
            down(run)

    print(json.dumps(figures, indent=1, default=str))
    for failure in failures[:50]:
        print("FAIL", failure)
    print("load test:", "all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
