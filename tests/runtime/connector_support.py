"""The acquirer simulator as the processor and reconciler reach it, in process: Lambda's synchronous
invoke of the real handler (runtime/acquirer_simulator.py) on a moto ledger table. Faults are made
on the real path: the connector unreachable (nothing runs), failing (a function error after it ran or
before), or answering later than the caller waits (its ledger already holds the answer)."""

from __future__ import annotations

import io
import json
from typing import Any

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from payments_platform.runtime import aws_clients
from payments_platform.runtime.acquirer_simulator import AcquirerSimulator, AuthorizationLedger, SimulatorSettings
from payments_platform.runtime.connector_client import ConnectorClient
from payments_platform.runtime.dispatch import TransactionDispatcher
from payments_platform.runtime.fingerprint_keyring import KeyringSource
from payments_platform.runtime.fingerprint_secret import load_fingerprint_keyring
from payments_platform.runtime.reconciler import TransactionReconciler
from payments_platform.runtime.transaction_creation import TransactionCreator
from payments_platform.runtime.transaction_lifecycle import TransactionLifecycle
from payments_platform.runtime.transaction_store import TransactionStore

from .support import DISPATCH_INDEX_NAME, TABLE_NAME, AwsResources

LEDGER_TABLE = "acquirer-ledger-test"
BUDGET_MS = 3000


def create_ledger(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=LEDGER_TABLE,
        AttributeDefinitions=[{"AttributeName": "idempotency_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "idempotency_key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


class InProcessConnector:
    """What ``aws_clients.invoke_client(timeout_ms)`` returns, for the simulator."""

    def __init__(self, dynamodb: Any, settings: SimulatorSettings | None = None) -> None:
        self.dynamodb = dynamodb
        self.settings = settings or SimulatorSettings()
        self.operations: list[str] = []
        self.fault: str | None = None  # "unreachable" | "error_before" | "error_after"
        self._timeout_ms = BUDGET_MS

    def __call__(self, timeout_ms: int) -> InProcessConnector:
        self._timeout_ms = timeout_ms
        return self

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        payload = json.loads(Payload)
        self.operations.append(payload["operation"])
        if self.fault == "unreachable":
            raise EndpointConnectionError(endpoint_url="http://lambda.local")
        if self.fault == "error_before":
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorType":"Crash"}')}
        slept: list[float] = []
        simulator = AcquirerSimulator(
            AuthorizationLedger(self.dynamodb, LEDGER_TABLE), self.settings, sleep=slept.append
        )
        answer = simulator.handle(payload)
        if self.fault == "error_after":
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorType":"Crash"}')}
        if sum(slept) * 1000 >= self._timeout_ms:
            raise ReadTimeoutError(endpoint_url="http://lambda.local")
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    def ledger(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=LEDGER_TABLE, ConsistentRead=True)["Items"]


def creator(aws: AwsResources, connector: InProcessConnector, clock: Any) -> TransactionCreator:
    store, dispatcher = _store_and_dispatcher(aws)
    return TransactionCreator(
        store=store,
        dispatcher=dispatcher,
        keyring=KeyringSource(load_fingerprint_keyring, clock),
        clock=clock,
        lifecycle=TransactionLifecycle(
            store, dispatcher, ConnectorClient(connector, "acquirer-simulator-test"), BUDGET_MS, clock
        ),
    )


def reconciler(aws: AwsResources, connector: InProcessConnector, clock: Any) -> TransactionReconciler:
    store, dispatcher = _store_and_dispatcher(aws)
    return TransactionReconciler(
        store,
        dispatcher,
        DISPATCH_INDEX_NAME,
        clock=clock,
        lifecycle=TransactionLifecycle(
            store, dispatcher, ConnectorClient(connector, "acquirer-simulator-test"), BUDGET_MS, clock
        ),
    )


def _store_and_dispatcher(aws: AwsResources) -> tuple[TransactionStore, TransactionDispatcher]:
    return (
        TransactionStore(aws_clients.client("dynamodb"), TABLE_NAME),
        TransactionDispatcher(
            aws_clients.client("sqs"), aws_clients.client("sns"), aws.audit_queue_url, aws.topic_arn, "test"
        ),
    )
