"""The local emulator's own costs: start to ready, stop, and what IAM enforcement adds per AWS call.

    .venv/bin/python benchmarks/emulator_bench.py [--starts 5] [--calls 200]

Starts: fresh ``python -m payments_platform.core.local.emulator.server`` processes, timed from
spawn to the ready file, then SIGTERM to exit. Calls: the transaction processor's happy-path
calls (TransactWriteItems of two Puts, SendMessage to a FIFO queue, Publish, UpdateItem) and the
status checker's Query, on one warm emulator, signed by the administrator key (``Action: *``)
and by a user holding a least-privilege policy on exactly those resources, alternating call by
call -- the difference is the cost of the resource-aware authorization. Reused boto3 clients
(keep-alive), one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from payments_platform.core.testing.emulator import running_emulator

REGION = "us-east-1"
ACCOUNT = "123456789012"


def measure_starts(runs: int) -> tuple[list[float], list[float]]:
    ready_s, stop_s = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            with running_emulator(Path(scratch)) as emulator:
                ready_s.append(time.perf_counter() - started)
                stopping = time.perf_counter()
                emulator.process.terminate()
                emulator.process.wait(timeout=30)
                stop_s.append(time.perf_counter() - stopping)
    return ready_s, stop_s


def platform_like_resources(admin: Callable[[str], Any]) -> dict[str, str]:
    table, queue, topic = "bench-transactions", "bench-audit.fifo", "bench-events"
    admin("dynamodb").create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "transaction_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "transaction_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = admin("sqs").create_queue(QueueName=queue, Attributes={"FifoQueue": "true"})["QueueUrl"]
    topic_arn = admin("sns").create_topic(Name=topic)["TopicArn"]
    return {
        "table": table,
        "queue_url": queue_url,
        "queue_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "topic_arn": topic_arn,
    }


def least_privilege_user(admin: Callable[[str], Any], resources: dict[str, str]) -> dict[str, str]:
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{resources['table']}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                "Resource": table_arn,
            },
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": resources["queue_arn"]},
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": resources["topic_arn"]},
        ],
    }
    iam = admin("iam")
    iam.create_user(UserName="bench-processor")
    iam.put_user_policy(UserName="bench-processor", PolicyName="only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="bench-processor")["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def calls(clients: Callable[[str], Any], resources: dict[str, str]) -> dict[str, Callable[[int], Any]]:
    table = resources["table"]

    def key(i: int) -> dict[str, Any]:
        return {"transaction_id": {"S": f"txn-{i}-{uuid.uuid4().hex}"}, "timestamp": {"N": "0"}}

    return {
        "dynamodb TransactWriteItems (2 Puts)": lambda i: clients("dynamodb").transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": key(i)}}, {"Put": {"TableName": table, "Item": key(i)}}]
        ),
        "sqs SendMessage (FIFO)": lambda i: clients("sqs").send_message(
            QueueUrl=resources["queue_url"],
            MessageBody="{}",
            MessageGroupId="g",
            MessageDeduplicationId=uuid.uuid4().hex,
        ),
        "sns Publish": lambda i: clients("sns").publish(TopicArn=resources["topic_arn"], Message="{}"),
        "dynamodb UpdateItem": lambda i: clients("dynamodb").update_item(
            TableName=table,
            Key={"transaction_id": {"S": "fixed"}, "timestamp": {"N": "0"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": str(i)}},
        ),
        "dynamodb Query": lambda i: clients("dynamodb").query(
            TableName=table,
            KeyConditionExpression="transaction_id = :t",
            ExpressionAttributeValues={":t": {"S": "fixed"}},
        ),
    }


def client_factory(endpoint: str, credentials: dict[str, str]) -> Callable[[str], Any]:
    session = boto3.session.Session(region_name=REGION, **credentials)
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, endpoint_url=endpoint)
        return made[service]

    return client


def timed_side_by_side(
    first: Callable[[int], Any], second: Callable[[int], Any], count: int
) -> tuple[list[float], list[float]]:
    """Alternate the two callers call by call, so both see the same (growing) emulator state."""
    first(-1), second(-2)  # warm the connections and botocore's model caches
    durations: tuple[list[float], list[float]] = ([], [])
    for i in range(count):
        for call, into in ((first, durations[0]), (second, durations[1])):
            started = time.perf_counter()
            call(i)
            into.append((time.perf_counter() - started) * 1000)
    return durations


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)\n")

    ready_s, stop_s = measure_starts(args.starts)
    print(
        f"Start to ready ({args.starts} fresh processes): median {statistics.median(ready_s):.2f} s, max {max(ready_s):.2f} s"
    )
    print(f"SIGTERM to exit: median {statistics.median(stop_s):.2f} s, max {max(stop_s):.2f} s\n")

    with tempfile.TemporaryDirectory() as scratch, running_emulator(Path(scratch)) as emulator:
        admin = client_factory(
            emulator.endpoint, {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}
        )
        resources = platform_like_resources(admin)
        scoped = client_factory(emulator.endpoint, least_privilege_user(admin, resources))
        print(f"Per call, {args.calls} calls each, ms    admin median   p95   least-privilege median   p95")
        for (name, as_admin), as_scoped in zip(calls(admin, resources).items(), calls(scoped, resources).values()):
            a, s = timed_side_by_side(as_admin, as_scoped, args.calls)
            print(
                f"{name:<38} {statistics.median(a):>8.2f} {p95(a):>6.2f} {statistics.median(s):>16.2f} {p95(s):>6.2f}"
            )

        # moto keeps everything in memory and some calls scan it: the cost grows with what is stored.
        growth = {
            name: call
            for name, call in calls(scoped, resources).items()
            if name.startswith(("dynamodb Transact", "sqs"))
        }
        print(f"\nGrowth (least-privilege, blocks of {args.calls} calls; the table and queue keep everything)")
        for name, call in growth.items():
            blocks = []
            for block in range(3):
                durations = []
                for i in range(args.calls):
                    started = time.perf_counter()
                    call(block * args.calls + i)
                    durations.append((time.perf_counter() - started) * 1000)
                blocks.append(statistics.median(durations))
            print(f"{name:<38} block medians " + "  ".join(f"{median:6.2f}" for median in blocks) + " ms")
        table_items = admin("dynamodb").describe_table(TableName=resources["table"])["Table"]["ItemCount"]
        queued = admin("sqs").get_queue_attributes(
            QueueUrl=resources["queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        print(f"stored at the end: {table_items} items, {queued['Attributes']['ApproximateNumberOfMessages']} messages")


if __name__ == "__main__":
    main()
