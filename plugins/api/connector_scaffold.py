"""``payments-platform new-plugin NAME --kind connector``: the api plugin's scaffold kind (its
``payments_scaffold_kinds``), a payment connector distribution (plugin API 1.2,
docs/PLUGIN_AUTHORS.md "Payment connectors") -- the api plugin consumes ``keys.PAYMENT_CONNECTOR``
and owns its invocation contract (runtime/connector_protocol.py), so the example of how to
provide one is the api plugin's to keep in step with it.

A small, real connector: its handler is the distribution's own code (``function_package``, with
the platform's runtime support for the protocol and the redacting log configuration), it answers
the processor's authorize and status requests by the contract's rules from a ledger of its own
(DynamoDB under the platform key, keyed by the idempotency key), and it decides outcomes itself --
amounts ending in a configured pair of digits are declined -- where a real connector calls its
acquirer (whose host it would declare as egress). Its tests synthesize it with the platform's own
plugins and exercise the handler against a stand-in DynamoDB client.
"""

from __future__ import annotations

from payments_platform.core import ScaffoldKind

# The core adds the pyproject.toml, listing the handler package (its __init__.py below) too.
CONNECTOR_TEMPLATES: dict[str, str] = {
    "README.md": """\
# $distribution

The `$name` payment connector for payments-platform (plugin API 1.2): the function that authorizes
a card. It runs with its own identity (the transaction processor may only invoke it), answers the
processor's `authorize` and `status` requests (`payments_runtime.connector_protocol`) from its own
ledger, and decides outcomes itself: amounts (in minor units) ending in
`decline_amounts_ending_in` (default 13) are declined `generic_decline`, others authorized.
Replace `decide` in `$package/function/handler.py` with the call to your acquirer.

## Use it

```sh
pip install -e .                                  # registers the entry point "$name"
payments-platform plugins --settings $name        # its settings and each environment's values
```

At most one connector per environment: enable it *instead of* another one (the acquirer
simulator is enabled in local, dev and staging):

```toml
[environments.local]
enable = ["$name"]

[environments.local.settings.$name]
decline_amounts_ending_in = 13
```

## Develop it

- `$package/plugin.py`: `payments_declare` (requires the network and the runtime package, provides
  `keys.PAYMENT_CONNECTOR`), `payments_resources` (the ledger, the function from this
  distribution's code, the ledger grant, the published connector). The api plugin grants the
  processor and the reconciler `lambda:InvokeFunction` on it; never grant them anything yourself.
- `$package/function/handler.py`: the contract's rules -- a repeated authorize is answered from the
  ledger (never authorized twice); a status query answers what was recorded, and for a key never
  authorized records and answers `failed`/`not_submitted`; raise when you cannot tell. The PAN and
  CVC arrive in the authorize payload and go nowhere else (not the ledger, not a log line).
- A connector calling an acquirer over the internet declares it: set `acquirer_host` (the
  function's `egress`).
- `tests/`: run `pytest`.

The contract is docs/PLUGIN_AUTHORS.md "Payment connectors" in payments-platform; every hook,
context key and setting is listed in its docs/REFERENCE.md. Import only from
`payments_platform.core` (and, in the handler, `payments_runtime`), never from another plugin.
""",
    "{package}/__init__.py": '''\
"""The $name payment connector for payments-platform (hooks in plugin.py, handler in function/)."""
''',
    "{package}/function/__init__.py": '''\
"""The $name connector's Lambda handler (packaged alone by function_package: no payments_platform.core here)."""
''',
    "{package}/settings.py": '''\
"""Settings the $name connector accepts (``[environments.<env>.settings.$name]``)."""

from __future__ import annotations

from payments_platform.core import LogRetentionDays, PluginSettings
from pydantic import Field


class $settings_class(PluginSettings):
    # Amounts (minor units) whose last two digits are these are declined (generic_decline).
    decline_amounts_ending_in: int = Field(default=13, ge=0, le=99)
    # The acquirer's host, declared as the function's egress (port 443); None: it calls no one.
    acquirer_host: str | None = None
    memory_mb: int = Field(default=512, ge=512, le=10240)  # the platform's floor for every function
    timeout_seconds: int = Field(default=10, ge=1, le=120)
    reserved_concurrency: int = Field(default=10, ge=1)
    log_retention_days: LogRetentionDays = 30
''',
    "{package}/plugin.py": '''\
"""The $name payment connector: authorizes cards for the platform's transaction processor.

- declare: settings, requires the network and the runtime package, provides the connector
- resources: the ledger (answers by idempotency key), the connector function from this
  distribution's own code, its ledger grant, the published connector
"""

from __future__ import annotations

from payments_platform.core import (
    Egress,
    PluginContext,
    PluginDeclaration,
    aws,
    function_package,
    hookimpl,
    keys,
    platform_function,
)

from .settings import $settings_class

KEY = "$slug"
LEDGER_KEY = "idempotency_key"  # function/handler.py LEDGER_KEY


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="$name",
        description="Payment connector: authorizes cards (amounts ending in the configured digits are declined)",
        requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
        provides=(keys.PAYMENT_CONNECTOR,),
        settings=$settings_class,
        # What the function calls: on the local emulator these endpoints point at it.
        emulated_services=("dynamodb", "lambda", "logs"),
        requires_api="$requires_api",
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: $settings_class = ctx.settings
    kms = ctx[keys.KMS_KEY]
    ledger_name = ctx.naming.name("$slug-ledger", kind="dynamodb")
    table = aws.dynamodb_table.DynamodbTable(
        ctx.scope,
        "ledger",  # a construct id is forever: changing it replaces the table
        name=ledger_name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=LEDGER_KEY,
        attribute=[aws.dynamodb_table.DynamodbTableAttribute(name=LEDGER_KEY, type="S")],
        point_in_time_recovery=aws.dynamodb_table.DynamodbTablePointInTimeRecovery(enabled=True),
        # PCI DSS 3.5.1: at rest under the platform CMK (it holds no PAN or CVC all the same).
        server_side_encryption=aws.dynamodb_table.DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=kms.arn),
    )
    ctx.monitoring.table("$slug-ledger", table_name=ledger_name)
    ledger = keys.Table(name=table.name, arn=table.arn, hash_key=LEDGER_KEY, kms_key_arn=kms.arn, region=ctx.aws.region)
    # This distribution's handler package, zipped with the platform's runtime support library.
    source = "$package.function"
    package = function_package(ctx, "connector_package", source=source, runtime_support=True)
    connector = platform_function(
        ctx,
        "connector",
        key=KEY,
        description="Payment connector: authorizes cards ($name)",
        role_description="$name connector: reads and records its answers in its ledger, nothing else",
        package=package,
        handler="$package.function.handler.handle",
        environment={
            "LEDGER_TABLE_NAME": ledger_name,
            "DECLINE_AMOUNTS_ENDING_IN": str(settings.decline_amounts_ending_in),
            "LOG_LEVEL": "INFO",
            "ENVIRONMENT": ctx.environment.name,
        },
        memory_mb=settings.memory_mb,
        timeout_seconds=settings.timeout_seconds,
        reserved_concurrency=settings.reserved_concurrency,
        log_retention_days=settings.log_retention_days,
        egress=Egress(ports=(443,), hosts=(settings.acquirer_host,)) if settings.acquirer_host else None,
    )
    ledger.grant(ctx.roles, connector, actions=("dynamodb:GetItem", "dynamodb:PutItem"), sid="${camel}Ledger")
    # Found by the api plugin through the context: it grants the processor invoke and names it.
    ctx[keys.PAYMENT_CONNECTOR] = keys.Connector(function=connector, display_name="$name")
''',
    "{package}/function/handler.py": '''\
"""The $name connector's handler: the processor's authorize and status requests
(payments_runtime.connector_protocol), answered by the contract's rules from the connector's ledger.

Every answer is recorded (one item per idempotency key, written once) before it is given: a
repeated authorize is answered from the ledger, never authorized twice; a status query answers
what was recorded, and for a key never authorized records ``failed``/``not_submitted`` so a late
authorize gets the same. The PAN and CVC are read from the payload and go nowhere else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError
from payments_runtime.connector_protocol import (
    NOT_SUBMITTED,
    OUTCOME_AUTHORIZED,
    OUTCOME_DECLINED,
    OUTCOME_FAILED,
    AuthorizeRequest,
    ConnectorAnswer,
    ProtocolError,
    StatusRequest,
    parse_request,
)
from payments_runtime.logging_config import configure_logging, get_logger

configure_logging()

LEDGER_KEY = "idempotency_key"


def reference(idempotency_key: str) -> str:
    """The acquirer's reference for a key: stable, and letters only where a card-data scan looks."""
    digest = hashlib.sha256(b"$name/" + idempotency_key.encode()).digest()[:15]
    return "${slug}-" + base64.b32encode(digest).decode("ascii").lower()


def decide(request: AuthorizeRequest, decline_ending: int) -> ConnectorAnswer:
    """Where a real connector asks its acquirer: amounts ending in ``decline_ending`` are declined."""
    if request.amount % 100 == decline_ending:
        return ConnectorAnswer(OUTCOME_DECLINED, "generic_decline", reference(request.idempotency_key))
    return ConnectorAnswer(OUTCOME_AUTHORIZED, None, reference(request.idempotency_key))


class Ledger:
    """The connector's answers by idempotency key, each written once: the first answer is the answer."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def recorded(self, key: str) -> ConnectorAnswer | None:
        item = self._dynamodb.get_item(TableName=self._table, Key={LEDGER_KEY: {"S": key}}, ConsistentRead=True)
        found = item.get("Item")
        if not found:
            return None
        return ConnectorAnswer(
            found["outcome"]["S"], found.get("decline_code", {}).get("S"), found.get("acquirer_reference", {}).get("S")
        )

    def record(self, key: str, answer: ConnectorAnswer) -> ConnectorAnswer:
        item = {LEDGER_KEY: {"S": key}, "outcome": {"S": answer.outcome}}
        if answer.decline_code is not None:
            item["decline_code"] = {"S": answer.decline_code}
        if answer.acquirer_reference is not None:
            item["acquirer_reference"] = {"S": answer.acquirer_reference}
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=item, ConditionExpression=f"attribute_not_exists({LEDGER_KEY})"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            first = self.recorded(key)
            if first is None:
                raise
            return first
        return answer


def answer(request: AuthorizeRequest | StatusRequest, ledger: Ledger, decline_ending: int) -> ConnectorAnswer:
    recorded = ledger.recorded(request.idempotency_key)
    if recorded is not None:
        return recorded
    if isinstance(request, StatusRequest):
        closed = ConnectorAnswer(OUTCOME_FAILED, NOT_SUBMITTED, reference(request.idempotency_key))
        return ledger.record(request.idempotency_key, closed)
    return ledger.record(request.idempotency_key, decide(request, decline_ending))


@functools.lru_cache(maxsize=1)
def _ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), os.environ["LEDGER_TABLE_NAME"])


def handle(event: Any, context: Any) -> dict[str, Any]:
    log = get_logger()
    try:
        request = parse_request(event)
    except ProtocolError as error:
        # The field is named, never its value (it may be card data); a function error to the caller.
        log.error("connector.bad_request", reason=str(error))
        raise
    given = answer(request, _ledger(), int(os.environ["DECLINE_AMOUNTS_ENDING_IN"]))
    log.info(
        "connector.answered",
        idempotency_key=request.idempotency_key,
        operation="status" if isinstance(request, StatusRequest) else "authorize",
        outcome=given.outcome,
        decline_code=given.decline_code,
    )
    return given.payload()
''',
    "tests/conftest.py": '''\
"""In Lambda the handler imports the platform's runtime support as ``payments_runtime`` (bundled by
function_package(..., runtime_support=True)); here the installed platform's copy stands in."""

import importlib
import sys

sys.modules.setdefault("payments_runtime", importlib.import_module("payments_platform.runtime"))
''',
    "tests/test_plugin.py": '''\
"""The $name connector synthesized with the platform's own plugins: its function, its grants."""

import json

import pytest
from payments_platform.core import ConfigError
from payments_platform.core.testing import synth

PLATFORM = ["api", "audit", "messaging", "network", "observability", "storage"]
FUNCTION = "$slug-test"
LEDGER = "$slug-ledger-test"


def build(**settings):
    return synth([*PLATFORM, "$name"], settings={"$name": settings} if settings else None)


def connector(stack):
    return stack.one("aws_lambda_function", function_name=FUNCTION)


def construct(stack, resource_type, **match):
    (key,) = [k for k, b in stack.resources(resource_type).items() if match.items() <= b.items()]
    return f"{resource_type}.{key}"


def test_the_connector_runs_this_distributions_handler_within_the_platforms_limits():
    function = connector(build())
    assert function["handler"] == "$package.function.handler.handle"
    assert function["memory_size"] >= 512 and function["reserved_concurrent_executions"] == 10
    assert function["tracing_config"] == {"mode": "Active"} and function["vpc_config"]["subnet_ids"]


def test_the_processor_may_only_invoke_the_connector():
    stack = build()
    function = construct(stack, "aws_lambda_function", function_name=FUNCTION)
    invoke = [s for s in stack.iam_statements("transaction-processor") if "lambda:InvokeFunction" in s["Action"]]
    arn = "$${" + function + ".arn}"
    assert [s["Resource"] for s in invoke] == [[arn, arn + ":*"]]  # the function and its versions
    processor = stack.one("aws_lambda_function", function_name="transaction-processor-test")
    assert processor["environment"]["variables"]["CONNECTOR_FUNCTION_NAME"] == "$${" + function + ".function_name}"


def test_the_ledger_is_encrypted_and_only_the_connector_reads_and_writes_it():
    stack = build()
    ledger = stack.one("aws_dynamodb_table", name=LEDGER)
    assert ledger["server_side_encryption"]["kms_key_arn"].startswith("$${aws_kms_key.")
    statements = {s["Sid"]: s for s in stack.iam_statements("$slug")}
    assert statements["${camel}Ledger"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    table = construct(stack, "aws_dynamodb_table", name=LEDGER)
    assert table + "." not in json.dumps(stack.iam_statements("transaction-processor"))


def test_declines_follow_the_setting():
    variables = connector(build(decline_amounts_ending_in=42))["environment"]["variables"]
    assert variables["DECLINE_AMOUNTS_ENDING_IN"] == "42"


def test_a_three_digit_ending_is_refused_naming_the_setting():
    with pytest.raises(ConfigError, match="decline_amounts_ending_in"):
        build(decline_amounts_ending_in=113)
''',
    "tests/test_handler.py": '''\
"""The $name connector's handler by the contract's rules, against a stand-in DynamoDB client."""

import json

import pytest
from botocore.exceptions import ClientError
from payments_runtime.connector_protocol import AuthorizeRequest, CardDetails, ProtocolError, StatusRequest

from $package.function import handler

PAN, CVC = "4242424242424242", "737"


class StandInDynamoDB:
    """get_item and a conditional put_item, as DynamoDB answers them."""

    def __init__(self):
        self.items = {}

    def get_item(self, TableName, Key, ConsistentRead):  # noqa: N803 -- boto3's names
        item = self.items.get(Key["idempotency_key"]["S"])
        return {"Item": item} if item else {}

    def put_item(self, TableName, Item, ConditionExpression):  # noqa: N803
        key = Item["idempotency_key"]["S"]
        if key in self.items:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        self.items[key] = Item


def authorize(key, amount):
    return AuthorizeRequest(key, amount, "EUR", CardDetails(PAN, CVC, 12, 2031), "order-1")


@pytest.fixture
def ledger():
    return handler.Ledger(StandInDynamoDB(), "ledger")


def test_an_amount_ending_in_13_is_declined_and_others_authorized(ledger):
    declined = handler.answer(authorize("k1", 1013), ledger, 13)
    assert (declined.outcome, declined.decline_code) == ("declined", "generic_decline")
    assert handler.answer(authorize("k2", 1014), ledger, 13).outcome == "authorized"


def test_a_repeated_authorize_is_answered_from_the_ledger(ledger):
    first = handler.answer(authorize("k1", 1000), ledger, 13)
    again = handler.answer(authorize("k1", 1013), ledger, 13)
    assert again == first and again.outcome == "authorized"


def test_a_status_query_never_authorizes_and_closes_an_unknown_key(ledger):
    closed = handler.answer(StatusRequest("k1"), ledger, 13)
    assert (closed.outcome, closed.decline_code) == ("failed", "not_submitted")
    assert handler.answer(authorize("k1", 1000), ledger, 13) == closed


def test_a_status_query_answers_what_was_recorded(ledger):
    first = handler.answer(authorize("k1", 2013), ledger, 13)
    assert handler.answer(StatusRequest("k1"), ledger, 13) == first


def test_the_pan_and_cvc_reach_neither_the_ledger_nor_the_log(monkeypatch, capfd):
    dynamodb = StandInDynamoDB()
    monkeypatch.setattr(handler, "_ledger", lambda: handler.Ledger(dynamodb, "ledger"))
    monkeypatch.setenv("DECLINE_AMOUNTS_ENDING_IN", "13")
    given = handler.handle(authorize("k1", 1013).payload(), None)
    assert given["outcome"] == "declined"
    written = json.dumps(dynamodb.items) + capfd.readouterr().out
    assert "connector.answered" in written
    assert PAN not in written and PAN[-12:] not in written and f'"{CVC}"' not in written


def test_a_request_outside_the_contract_is_a_function_error_naming_the_field(monkeypatch):
    monkeypatch.setattr(handler, "_ledger", lambda: handler.Ledger(StandInDynamoDB(), "ledger"))
    monkeypatch.setenv("DECLINE_AMOUNTS_ENDING_IN", "13")
    payload = authorize("k1", 1000).payload()
    payload["card"]["number"] = "4242"
    with pytest.raises(ProtocolError, match="card.number"):
        handler.handle(payload, None)
''',
}

CONNECTOR_SCAFFOLD = ScaffoldKind(
    "connector",
    "a payment connector with its own handler and ledger, for plugin API 1.2",
    CONNECTOR_TEMPLATES,
    summary="The $name connector for payments-platform",
    next_step=(
        'enable it in an environment of environments.toml instead of its connector: enable = ["$name"] '
        "(at most one connector per environment)"
    ),
)
