"""Typed keys for the shared build context, and the values published under them.

A key is a collision-free, typed slot (like pytest's ``StashKey[T]``): ``ctx[NETWORK]``
is a :class:`Network`. Values hold Terraform tokens (strings such as
``${aws_vpc.x.id}``), so a plugin can use another's resources without importing it,
and a test can publish stub values without synthesizing the real provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from payments_platform.core import grants, subscriptions
from payments_platform.core.grants import Grantor
from payments_platform.core.network_needs import Egress, NetworkNeeds
from payments_platform.core.roles import Role, grant_key_via_service

if TYPE_CHECKING:
    from payments_platform.core.context import PluginContext

T = TypeVar("T")


class ContextKey(Generic[T]):
    """A typed slot in the build context, named ``<area>.<thing>`` for error messages."""

    __slots__ = ("name", "type", "doc")

    def __init__(self, name: str, type_: type[T], doc: str = "") -> None:
        self.name = name
        self.type = type_
        self.doc = doc

    def __repr__(self) -> str:
        return f"ContextKey({self.name!r})"


@dataclass(frozen=True)
class KmsKey:
    """The platform's customer-managed key (rotation on, explicit key policy)."""

    # the key's ARN: pass it as a resource's kms_key_id / kms_master_key_id
    arn: str
    # the key's id (a UUID), where an API asks for the id rather than the ARN
    key_id: str
    # alias/payments-<suffix>, for people and consoles
    alias_name: str
    region: str = field(kw_only=True)  # where the key lives (confines its use to services there)

    def grant_use(self, roles: Grantor, role: Any, *, sid: str, actions: Sequence[str], service: str) -> None:
        """Let ``role`` use this key for ``actions`` (e.g. ``kms:Decrypt``) only through calls
        ``service`` (e.g. ``"secretsmanager"``, ``"s3"``) makes in the key's region on its behalf
        (``kms:ViaService``), never directly. ``roles`` is ``ctx.roles``. Grants on a published
        table, queue or topic already include their key use."""
        grant_key_via_service(roles, role, self.arn, sid=sid, actions=actions, service=service, region=self.region)


@dataclass(frozen=True)
class Network:
    """The VPC the platform's functions run in: private subnets (reaching AWS through VPC
    endpoints), public subnets, the private route tables (for gateway endpoints) and the
    security groups of the functions and of the interface endpoints."""

    # the VPC's id
    vpc_id: str
    # its IPv4 range, e.g. 10.40.0.0/16 (for security group rules)
    vpc_cidr: str
    # one per availability zone; functions run here, with no route to the internet
    private_subnet_ids: tuple[str, ...]
    # one per availability zone; nothing of the platform's runs here
    public_subnet_ids: tuple[str, ...]
    # the security group every platform function uses
    lambda_security_group_id: str
    # route tables of the private subnets, for gateway endpoints (S3, DynamoDB)
    private_route_table_ids: tuple[str, ...] = ()
    # the interface endpoints' security group ("" when the provider has none)
    endpoint_security_group_id: str = ""
    # What plugins ask of the network (plugin API 1.2): read by its provider in finalize.
    needs: NetworkNeeds = field(default_factory=NetworkNeeds, kw_only=True, compare=False, repr=False)

    def require_service(self, ctx: Any, service: str) -> None:
        """Say that functions in this environment call AWS ``service`` (e.g. ``"lambda"``): the
        provider builds its interface endpoint in the private subnets (private DNS, HTTPS from the
        functions' security group) unless the environment has it already. Call it in resources or
        wiring with your ``ctx``; an environment where nobody asks synthesizes without it."""
        self.needs.require_service(ctx, service)

    def require_egress(self, ctx: Any, function: Any, egress: Egress) -> None:
        """Say that ``function`` (a :class:`Function` you built) reaches the internet as ``egress``
        says; ``platform_function(..., egress=...)`` calls it for you. The provider places that
        function alone where it has a route out (the platform's network: dedicated private egress
        subnets behind a NAT gateway per availability zone) and lets it connect to ``egress.ports``
        only; every other function keeps no route to the internet."""
        self.needs.require_egress(ctx, function, egress)


@dataclass(frozen=True)
class TableIndex:
    """A global secondary index of a published table."""

    # the index name, as Query's IndexName takes it
    name: str
    # its partition key attribute
    hash_key: str
    # its sort key attribute (None when it has none)
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table. Consumers get access through the table itself (``grant_read``,
    ``grant_write``, ``grant``), never by writing IAM statements for it. In every grant of a
    published value, ``role`` is the grantee: a :class:`Function` (its execution role gets the
    statements) or a role."""

    # the table name (reference), as the SDK's TableName takes it
    name: str
    # the table ARN (reference)
    arn: str
    # the partition key attribute
    hash_key: str
    # the sort key attribute (None when it has none)
    range_key: str | None = None
    # its global secondary indexes (index_on finds one by keys)
    indexes: tuple[TableIndex, ...] = ()
    # The key encrypting the table at rest: readers and writers use it through DynamoDB.
    kms_key_arn: str = field(kw_only=True)
    region: str = field(kw_only=True)  # where the table lives (confines key use to DynamoDB there)
    # The table's DynamoDB stream ("" when the provider enables none): what grant_stream_read opens.
    stream_arn: str = field(default="", kw_only=True)

    def index_on(self, hash_key: str, range_key: str | None = None) -> TableIndex | None:
        """The index keyed on ``hash_key`` (and ``range_key``), or None when the table has none."""
        return next((i for i in self.indexes if (i.hash_key, i.range_key) == (hash_key, range_key)), None)

    def index_arn(self, index: TableIndex) -> str:
        """The ARN of one of this table's indexes (``<table arn>/index/<name>``)."""
        return f"{self.arn}/index/{index.name}"

    def grant(
        self,
        roles: Grantor,
        role: Any,
        *,
        actions: Sequence[str],
        sid: str,
        partition_key_patterns: Sequence[str] | None = None,
    ) -> None:
        """Grant ``role`` exactly ``actions`` on this table (statement ``sid``) and the key use
        they need (``{sid}Kms``: ``kms:Decrypt``, plus ``kms:GenerateDataKey`` for writers),
        only through DynamoDB. ``roles`` is ``ctx.roles``. Only item-level actions
        (:data:`~payments_platform.core.grants.ITEM_LEVEL_ACTIONS`) are accepted; anything else
        (``Scan``, ``DeleteItem``, ``DeleteTable``, wildcards) raises ``RegistrationError``.
        ``partition_key_patterns`` (e.g. ``["idem_*"]``) confines the actions to items whose
        partition key matches one of them (``dynamodb:LeadingKeys``)."""
        grants.grant_table(roles, role, self, actions=actions, sid=sid, partition_key_patterns=partition_key_patterns)

    def grant_read(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """``GetItem`` and ``Query`` on this table, and ``kms:Decrypt`` through DynamoDB."""
        self.grant(roles, role, actions=grants.TABLE_READ_ACTIONS, sid=sid)

    def grant_write(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """``PutItem``, ``UpdateItem``, ``GetItem`` and ``Query`` (never a delete: PCI DSS 10.5),
        and the key use a writer needs, through DynamoDB."""
        self.grant(roles, role, actions=grants.TABLE_WRITE_ACTIONS, sid=sid)

    def grant_index_query(self, roles: Grantor, role: Any, index: TableIndex, *, sid: str) -> None:
        """``Query`` on one of this table's indexes (statement ``sid``). The index's items are
        encrypted under the table's key, whose use comes with a grant on the table itself: the
        role must already hold one (``grant``, ``grant_read``, ``grant_write``), or this raises
        ``RegistrationError``."""
        grants.grant_table_index_query(roles, role, self, index, sid=sid)

    def grant_backup(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """What AWS Backup does with its service role (``ctx.roles.role(..., service=
        "backup.amazonaws.com")``) to back this table up: describe it, create, describe and
        delete its backups (statements ``sid``, ``{sid}Backups``), and use its key through
        DynamoDB (``{sid}Kms``). Never an item read, a restore or a table change."""
        grants.grant_table_backup(roles, role, self, sid=sid)

    def grant_export(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """Export this table to S3 from its point-in-time recovery data
        (``ExportTableToPointInTime``; ``DescribeExport`` on its exports: ``{sid}Exports``) and
        decrypt it through DynamoDB (``{sid}Kms``). Writing the export to *your* bucket is
        your own grant on your own bucket."""
        grants.grant_table_export(roles, role, self, sid=sid)

    def grant_stream_read(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """Read this table's stream (what a Lambda event source mapping on ``stream_arn`` calls:
        ``DescribeStream``, ``GetRecords``, ``GetShardIterator``; statement ``sid``) and decrypt
        its records through DynamoDB (``{sid}Kms``). Raises ``RegistrationError`` when the
        provider published no ``stream_arn``."""
        grants.grant_table_stream_read(roles, role, self, sid=sid)


@dataclass(frozen=True)
class Queue:
    """An SQS queue. Consumers get access through the queue (``grant_send``, ``grant_consume``)."""

    # the queue name (ends in .fifo for a FIFO queue)
    name: str
    # the queue ARN (reference)
    arn: str
    # the queue URL, what SendMessage takes
    url: str
    # a FIFO queue: senders pass a MessageGroupId
    fifo: bool = False
    # A consumer function's timeout may not exceed it (Lambda refuses the event source mapping).
    visibility_timeout_seconds: int = 30
    # Where SQS moves a message received too often without being deleted ("" when nowhere).
    dead_letter_queue_arn: str = ""
    # The key encrypting messages at rest: senders and consumers use it through SQS.
    kms_key_arn: str = field(kw_only=True)
    # where the queue lives (confines key use to SQS there)
    region: str = field(kw_only=True)

    def grant_send(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """``sqs:SendMessage`` on this queue (statement ``sid``) and the key use SQS makes for
        the sender (``{sid}Kms``). ``roles`` is ``ctx.roles``."""
        grants.grant_queue_send(roles, role, self, sid=sid)

    def grant_consume(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """Receive, delete and read attributes (what a Lambda event source mapping calls;
        statement ``sid``) and ``kms:Decrypt`` through SQS (``{sid}Kms``)."""
        grants.grant_queue_consume(roles, role, self, sid=sid)


@dataclass(frozen=True)
class Topic:
    """An SNS topic. Publishers get access through the topic (``grant_publish``); subscribers
    subscribe through it (``subscribe_queue``, ``subscribe_function``), never by writing the
    subscription, queue policy or key statement themselves."""

    # the topic name
    name: str
    # the topic ARN (reference), what Publish takes
    arn: str
    # The key encrypting messages at rest: publishers use it through SNS.
    kms_key_arn: str = field(kw_only=True)
    # where the topic lives (confines key use to SNS there)
    region: str = field(kw_only=True)
    # The ARN built from the literal name, no reference to the topic: what the platform key's policy
    # may name (the topic is encrypted under the key; naming the resource there is a dependency cycle).
    physical_arn: str = field(default="", kw_only=True)
    # The message attribute every event published here carries (its type), and nothing else does
    # (CloudWatch alarms publish none): what every subscription's filter policy matches on.
    event_type_attribute: str = field(default="", kw_only=True)
    # The event types published here (each has a versioned JSON Schema in docs/events/); () = not declared.
    event_types: tuple[str, ...] = field(default=(), kw_only=True)

    def grant_publish(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """``sns:Publish`` on this topic (statement ``sid``) and the key use SNS makes for the
        publisher (``{sid}Kms``). ``roles`` is ``ctx.roles``."""
        grants.grant_topic_publish(roles, role, self, sid=sid)

    def subscribe_queue(
        self,
        ctx: PluginContext,
        queue: Queue,
        *,
        sid: str,
        event_types: Sequence[str] = (),
        raw_message_delivery: bool = True,
    ) -> Any:
        """Deliver this topic's events (those of ``event_types``, or every type; never an alarm)
        to ``queue``, a standard SQS queue of the subscribing plugin (``ctx`` is its context).
        Builds in ``ctx.scope``: the subscription with its filter policy, the queue's policy
        (TLS only; ``sqs:SendMessage`` for SNS from this topic alone, ``aws:SourceArn``; the
        queue must carry no policy of its own) and, for a queue under the platform CMK, the
        key-policy statement ``{sid}SnsDelivery`` letting SNS encrypt for it on this topic's
        behalf. ``raw_message_delivery`` (default) delivers the event body as published.
        Returns the ``aws_sns_topic_subscription``; raises ``RegistrationError`` for an
        unknown event type, a FIFO queue or a queue under another key."""
        return subscriptions.subscribe_queue(
            ctx, self, queue, sid=sid, event_types=event_types, raw_message_delivery=raw_message_delivery
        )

    def subscribe_function(
        self, ctx: PluginContext, function: Function, *, sid: str, event_types: Sequence[str] = ()
    ) -> Any:
        """Invoke ``function`` with this topic's events (of ``event_types``, or every type;
        never an alarm): the subscription with its filter policy and the function's
        ``lambda:InvokeFunction`` permission for SNS from this topic alone (statement ``sid``).
        Returns the ``aws_sns_topic_subscription``."""
        return subscriptions.subscribe_function(ctx, self, function, sid=sid, event_types=event_types)


@dataclass(frozen=True)
class RestApi:
    """The API Gateway REST API and its deployed stage.

    ``stage_name`` and ``stage_arn`` are references to the ``aws_api_gateway_stage`` resource
    (tokens), so anything built from them (a WAF association, a usage plan, a log subscription)
    is created after the stage exists, and never against a stage that is not there yet.
    """

    name: str  # the API's name, as CloudWatch's ApiName dimension shows it
    # the REST API's id (reference)
    rest_api_id: str
    arn: str  # arn:aws:apigateway:<region>::/restapis/<id>
    stage_name: str  # reference to the stage (its ``stage_name`` attribute)
    stage_arn: str  # reference to the stage: arn:aws:apigateway:<region>::/restapis/<id>/stages/<name>
    execution_arn: str  # arn:aws:execute-api:<region>:<account>:<id>, the prefix of lambda:InvokeFunction source ARNs
    invoke_url: str  # https://<id>.execute-api.<region>.amazonaws.com/<stage>
    usage_plan_id: str  # the plan throttling every client of the stage


@dataclass(frozen=True)
class Function:
    """A Lambda function of the platform -- the one representation of it: what
    :func:`~payments_platform.core.builders.platform_function` builds and returns, what a plugin
    publishes under a function key, and what a grant takes (like CDK's ``lambda.Function``, the
    function is the grantee): ``queue.grant_send(ctx.roles, ctx[keys.TRANSACTION_PROCESSOR], sid=...)``.

    ``role`` is the function's execution role. Its owner (the publishing plugin) grants it what
    its handler calls; another plugin adds statements to it only through a value's grant on its
    own resource or on a published one (``Queue.grant_send``, ``Table.grant_read``, ...), having
    declared this key in ``requires`` or ``uses`` (core/roles.py states the rules).

    ``name``, ``arn`` and the log group's are references to the resources (what another plugin
    builds from them is ordered after them). A handle built by hand (a stub, a function made
    without ``platform_function``) may leave the keyword-only fields at their defaults."""

    name: str  # the function's name (reference to the resource), e.g. transaction-processor-prod
    arn: str  # the function's ARN (reference), for lambda:InvokeFunction grants and event sources
    role: Role  # its execution role (a grant given the function uses it)
    log_group_name: str  # /aws/lambda/<name>, the group the function logs to (reference)
    log_group_arn: str  # that group's ARN (reference)
    # The key it was built under: base of its name, its role's key, its monitoring key ("": not given).
    key: str = field(default="", kw_only=True)
    # The name as a plain string, known at synth time (dashboards, alarm texts, evidence notes).
    physical_name: str = field(default="", kw_only=True)
    # The aws_lambda_function resource (None on a handle built by hand).
    resource: Any = field(default=None, kw_only=True, compare=False, repr=False)
    # The aws_cloudwatch_log_group resource (None on a handle built by hand).
    log_group: Any = field(default=None, kw_only=True, compare=False, repr=False)

    @property
    def physical_log_group_name(self) -> str:
        """``/aws/lambda/<physical_name>`` as a plain string (``log_group_name`` is the reference)."""
        return f"/aws/lambda/{self.physical_name}"

    def grant_invoke(self, roles: Grantor, role: Any, *, sid: str) -> None:
        """Let ``role`` -- another :class:`Function`, or a role -- invoke this function
        (``lambda:InvokeFunction`` on its ARN and its versions/aliases; statement ``sid``):
        ``connector.grant_invoke(ctx.roles, ctx[keys.TRANSACTION_PROCESSOR], sid="InvokeConnector")``.
        ``roles`` is ``ctx.roles``."""
        grants.grant_function_invoke(roles, role, self, sid=sid)


@dataclass(frozen=True)
class PackageTree:
    """A source directory a Lambda package copies under one top-level archive directory."""

    # the directory inside the zip, e.g. payments_runtime (what the handler imports)
    archive_dir: str
    # the source directory on this machine
    path: str
    # the file suffixes copied, e.g. (".py", ".json")
    suffixes: tuple[str, ...] = (".py",)


@dataclass(frozen=True)
class CodeSigner:
    """Where an environment signs its Lambda code (PCI DSS 6.5.1): the versioned artifacts bucket
    unsigned packages are uploaded to, the AWS Signer profile that signs them, and the code signing
    config that makes Lambda refuse anything else. :func:`~payments_platform.core.function_package`
    uses it; a plugin never builds signing resources of its own."""

    # the artifacts bucket's name (reference)
    bucket_name: str
    # the Signer profile's name (reference)
    profile_name: str
    # the enforcing aws_lambda_code_signing_config's ARN (reference)
    code_signing_config_arn: str
    # the key uploads are encrypted with
    kms_key_arn: str
    # resources an upload waits for (the bucket's versioning and encryption)
    bucket_ready: tuple[Any, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Connector:
    """The payment connector of the environment (plugin API 1.2): the function that authorizes a
    card with an acquirer, published by the connector plugin under :data:`PAYMENT_CONNECTOR`.

    The connector runs with its own role (it holds the acquirer's credentials; the processor never
    does): the consumer of this value only invokes it, through ``function.grant_invoke``. What it
    is invoked with and answers is the invocation contract of ``payments_platform.runtime.
    connector_protocol`` (an ``authorize`` and a ``status`` query for an idempotency key, the JSON
    schema ``connector_protocol.schema.json``): a third-party connector implements that module's
    request and answer shapes. At most one plugin provides it per environment; without one the
    environment is *intake only* (transactions stay ``received``)."""

    function: Function  # the connector's Lambda function (its own role, invoked synchronously)
    display_name: str  # who authorizes, for people: "Acquirer simulator (Stripe test cards)"


@dataclass(frozen=True)
class FunctionPackage:
    """A Lambda deployment package. ``keys.RUNTIME_PACKAGE`` is the runtime's: every function of
    the platform runs it, each with its own handler (``payments_runtime.<module>.handler``). A
    plugin's own handler code is packaged by :func:`~payments_platform.core.function_package`
    (plugin API 1.2), signed where the runtime's package is."""

    # The aws_lambda_function code arguments: {"filename": <synth asset path>}, or, where the
    # environment signs its code, {"s3_bucket", "s3_key", "code_signing_config_arn"} of the signed copy.
    code: Mapping[str, Any]
    source_code_hash: str  # base64 SHA-256 of the unsigned zip, what aws_lambda_function expects
    runtime: str  # e.g. python3.12
    architecture: str  # arm64 or x86_64
    # Where this environment signs code (None: it deploys unsigned packages, e.g. the emulator).
    signer: CodeSigner | None = field(default=None, kw_only=True)
    # The runtime support library (structlog configuration, card-data redaction) a plugin's
    # package may bundle (function_package(..., runtime_support=True)); () when none is offered.
    support: tuple[PackageTree, ...] = field(default=(), kw_only=True)


# Provided by the core itself, before any plugin runs.
KMS_KEY: ContextKey[KmsKey] = ContextKey("core.kms_key", KmsKey, "The platform CMK; every plugin encrypts with it.")

# Provided by the platform's own plugins; a third-party plugin may provide them instead.
NETWORK: ContextKey[Network] = ContextKey(
    "network.network", Network, "VPC, private subnets and the Lambda security group."
)
TRANSACTIONS_TABLE: ContextKey[Table] = ContextKey(
    "storage.transactions_table", Table, "The DynamoDB table holding payment transactions."
)
AUDIT_QUEUE: ContextKey[Queue] = ContextKey("messaging.audit_queue", Queue, "The SQS FIFO audit trail queue.")
NOTIFICATIONS_TOPIC: ContextKey[Topic] = ContextKey(
    "messaging.notifications_topic",
    Topic,
    "The SNS topic for payment events and alarms; a subscription through it receives the events alone.",
)
REST_API: ContextKey[RestApi] = ContextKey("api.rest_api", RestApi, "The API Gateway REST API and its stage.")
RUNTIME_PACKAGE: ContextKey[FunctionPackage] = ContextKey(
    "api.runtime_package", FunctionPackage, "The runtime's deployment package, for any plugin's Lambda function."
)
# The api plugin's functions (plugin API 1.1): reach their roles through these, never by role name.
TRANSACTION_PROCESSOR: ContextKey[Function] = ContextKey(
    "api.transaction_processor",
    Function,
    "POST /transactions: records a payment, sends its audit message, publishes its event.",
)
STATUS_CHECKER: ContextKey[Function] = ContextKey(
    "api.status_checker", Function, "GET /status: reads one transaction's status."
)
TRANSACTION_RECONCILER: ContextKey[Function] = ContextKey(
    "api.transaction_reconciler",
    Function,
    "Scheduled every minute: completes dispatches a processor could not finish.",
)
CARD_FINGERPRINT_ROTATOR: ContextKey[Function] = ContextKey(
    "api.card_fingerprint_rotator",
    Function,
    "Run by Secrets Manager: rotates the card-fingerprint HMAC key.",
)
# The connector that authorizes payments (plugin API 1.2); at most one plugin provides it.
PAYMENT_CONNECTOR: ContextKey[Connector] = ContextKey(
    "payments.connector",
    Connector,
    "The payment connector: the function the processor invokes to authorize a card (absent: intake only).",
)

WELL_KNOWN_KEYS: tuple[ContextKey[Any], ...] = (
    KMS_KEY,
    NETWORK,
    TRANSACTIONS_TABLE,
    AUDIT_QUEUE,
    NOTIFICATIONS_TOPIC,
    REST_API,
    RUNTIME_PACKAGE,
    TRANSACTION_PROCESSOR,
    STATUS_CHECKER,
    TRANSACTION_RECONCILER,
    CARD_FINGERPRINT_ROTATOR,
    PAYMENT_CONNECTOR,
)
