"""Fidelity patches for moto 5.2.5: attributes moto drops, so that a plan right after an apply to
the emulator shows no changes -- as on AWS -- without ``ignore_changes`` in what we synthesize
(which would also hide real drift on AWS).

Each patch is small and carries the note for the upstream fix that would make it unnecessary;
``install()`` may run any number of times (core/local/emulator/patching.py).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from payments_platform.core.local.emulator.patching import Patches

PATCHES = Patches("fidelity")


# --------------------------------------------------------------------------- Lambda LoggingConfig


def default_logging_config(function_name: str) -> dict[str, str]:
    """What Lambda reports for a function created without ``LoggingConfig``."""
    return {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name}"}


def merged_logging_config(
    function_name: str, current: dict[str, str] | None, update: dict[str, Any] | None
) -> dict[str, str]:
    """Lambda's stored LoggingConfig after a create (``current`` None) or an update: the fields
    given replace the stored ones; JSON format brings its log-level defaults."""
    config = dict(current or default_logging_config(function_name))
    config.update({key: value for key, value in (update or {}).items() if value is not None})
    if config.get("LogFormat") == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    else:  # log levels exist only for the JSON format
        config.pop("ApplicationLogLevel", None)
        config.pop("SystemLogLevel", None)
    return config


@PATCHES.replaces("moto.awslambda.models:LambdaFunction", "__init__", "get_configuration", "update_configuration")
def lambda_logging_config(original_init: Any, original_get: Any, original_update: Any) -> tuple[Any, ...]:
    """Store and return a function's ``LoggingConfig`` (CreateFunction, UpdateFunctionConfiguration,
    GetFunction[Configuration], ListFunctions), and send its logs to the configured group.

    Upstream: moto.awslambda.models.LambdaFunction should keep ``spec["LoggingConfig"]`` (with
    Lambda's defaults: Text, ``/aws/lambda/<name>``), return it from ``get_configuration``, accept
    it in ``update_configuration`` and use its ``LogGroup`` for ``logs_group_name``."""

    def __init__(self: Any, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
        original_init(self, account_id, spec, region, version)
        self.logging_config = merged_logging_config(self.function_name, None, spec.get("LoggingConfig"))
        self.logs_group_name = self.logging_config["LogGroup"]

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_get(self, on_create)
        logging_config = getattr(self, "logging_config", None) or default_logging_config(self.function_name)
        config["LoggingConfig"] = dict(logging_config)
        return config

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            self.logging_config = merged_logging_config(
                self.function_name, getattr(self, "logging_config", None), config_updates["LoggingConfig"]
            )
            self.logs_group_name = self.logging_config["LogGroup"]
        return original_update(self, config_updates)

    return __init__, get_configuration, update_configuration


# --------------------------------------------------------------------------- security group rules


@PATCHES.replaces("moto.ec2.models.security_groups:SecurityGroupRule", "__init__", "description")
def security_group_rule_descriptions(original_init: Any, _description: Any) -> tuple[Any, ...]:
    """Return the description of security group rules that reference a security group or a prefix
    list (DescribeSecurityGroupRules, and the rules Authorize* returns), not only of CIDR rules.

    Upstream: moto.ec2.models.security_groups.SecurityGroupRule.description reads only
    ``ip_range["Description"]``; it should fall back to the ``UserIdGroupPairs`` entry's and the
    ``PrefixListIds`` entry's ``Description`` (the latter is dropped in ``__init__``, which keeps
    only the prefix list id)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix_list = kwargs.get("prefix_list_id", args[7] if len(args) > 7 else None)
        self.prefix_list_description = (prefix_list or {}).get("Description")

    def description(self: Any) -> str | None:
        # ModifySecurityGroupRules writes a new description into ip_range, whatever the rule type.
        for source in (self.ip_range, self.source_group):
            if source.get("Description") is not None:
                return source["Description"]
        return getattr(self, "prefix_list_description", None)

    return __init__, property(description)


@PATCHES.replaces("moto.sqs.models:Queue", "attributes")
def queue_redrive_policy_format(moto_attributes: property) -> property:
    """A queue's RedrivePolicy reads back as the compact JSON SQS returns (and the platform
    configures); moto re-serialized it with spaces, so every re-plan showed a whitespace-only update.
    A queue without one (never set, or removed with an empty value) reports none, as SQS does --
    not "null", which the provider's wait after deleting an aws_sqs_queue_redrive_policy never
    accepts as empty.

    Upstream: moto/sqs/models.py ``Queue.attributes`` should return the stored policy compactly."""

    def attributes(self: Any) -> dict[str, Any]:
        assert moto_attributes.fget is not None
        result = moto_attributes.fget(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        else:  # moto lists it with None, which its response then leaves out
            result.pop("RedrivePolicy", None)
        return result

    return property(attributes)


@PATCHES.replaces("moto.sqs.models:Queue", "_set_attributes")
def queue_policy_kept_by_other_attribute_writes(moto_set_attributes: Any) -> Any:
    """SetQueueAttributes changes only the attributes it names: a queue keeps its Policy when
    another attribute is set (an aws_sqs_queue_redrive_policy's RedrivePolicy, an in-place update
    of the queue). moto set the policy to whatever the call carried, so the queue lost its TLS-only
    policy and the next plan put it back.

    Upstream: moto/sqs/models.py ``Queue._set_attributes`` should assign ``self.policy`` only when
    ``"Policy" in attributes``."""

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        policy = getattr(self, "policy", None)  # None while __init__ sets the defaults
        moto_set_attributes(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = policy

    return _set_attributes


# --------------------------------------------------------------------------- SQS FIFO deduplication

FIFO_DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000
_fifo_lock = threading.Lock()


@PATCHES.replaces("moto.sqs.models:Queue", "add_message")
def fifo_deduplication_after_delete(moto_add_message: Any) -> Any:
    """A FIFO queue drops a message whose deduplication id it accepted in the last 5 minutes,
    even when that message has been received and deleted since (SQS: "any messages sent with the
    same message deduplication ID are accepted successfully but aren't delivered during the
    5-minute deduplication interval"). moto compared only with the messages still in the queue, so
    a re-send after the consumer had deleted the first was delivered twice (found by the chaos
    test: a reconciled dispatch re-sends the audit message the request had already sent).

    Upstream: moto.sqs.models.Queue.add_message should remember accepted deduplication ids for
    DEDUPLICATION_TIME_IN_SECONDS independently of ``_messages``."""

    def add_message(self: Any, message: Any) -> None:
        dedup_id = message.deduplication_id if self.fifo_queue else None
        if dedup_id is not None:
            with _fifo_lock:
                accepted = self.__dict__.setdefault("_payments_dedup_accepted", {})
                now = int(message.sent_timestamp or 0)
                for stale in [k for k, at in accepted.items() if now - at >= FIFO_DEDUPLICATION_WINDOW_MS]:
                    del accepted[stale]
                if dedup_id in accepted:
                    return
                accepted[dedup_id] = now
        moto_add_message(self, message)

    return add_message


# --------------------------------------------------------------------------- DynamoDB writes

# Every DynamoDB write of the emulator goes through this one lock (see below).
_dynamodb_write_lock = threading.RLock()
DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


@PATCHES.replaces("moto.dynamodb.models:DynamoDBBackend", *DYNAMODB_WRITES)
def dynamodb_write_isolation(*originals: Any) -> tuple[Any, ...]:
    """Serialize DynamoDB writes, so a failed TransactWriteItems cannot undo another request's
    write, and two conditional writes to one item cannot both pass their condition.

    Upstream: moto.dynamodb.models.DynamoDBBackend.transact_write_items rolls a failed transaction
    back by restoring a deep copy of every table it touched, taken before it started -- discarding
    whatever other requests wrote meanwhile (under load, an idempotent replay or a conflicting key
    erased concurrent payments: a 201 whose transaction no longer existed). Conditional writes
    check and write without a lock. DynamoDB isolates each write; moto's server is threaded and
    should lock per table (or roll back only the transaction's own items)."""

    def locked(original: Any) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _dynamodb_write_lock:
                return original(self, *args, **kwargs)

        return write

    return tuple(locked(original) for original in originals)


def install() -> None:
    """Apply every fidelity patch to moto in this process (idempotent)."""
    PATCHES.install()
