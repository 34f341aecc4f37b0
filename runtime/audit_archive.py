"""Lambda handler that moves the audit queue into the archive bucket
(``payments_runtime.audit_archive.handler``; PCI DSS 10.5.1: the audit trail kept 12 months).

The audit plugin connects it to the SQS FIFO audit queue with ReportBatchItemFailures: the
handler returns the ids of the messages it could not archive, Lambda deletes the others, and a
message that keeps failing moves to the dead-letter queue after maxReceiveCount receives.

* One object per message, keyed ``audit/YYYY/MM/DD/<transaction_id>/<type>-<dedup>.json`` (the
  date of the transaction, a digest of the SQS deduplication id), written with
  ``If-None-Match: *``: a redelivered message finds its object and is not written twice, even
  in a versioned bucket.
* A poison message (not JSON, not an object, a field missing or malformed) is a batch item
  failure; nothing of its content is logged, only its message id and the reason.
* FIFO order: once a message of a message group fails, the rest of that group in the batch is
  returned unprocessed, so the group is retried in order.
* No card data in the archive (PCI DSS 3.3.1, 3.4.1): audit messages carry none, the message
  passes the runtime's redaction, and an object that still holds a PAN in any formatting or a
  labelled CVC is not written (logged by field path, left for the dead-letter queue).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import client, error_code
from .logging_config import bind_request_context, configure_logging, get_logger
from .record_codec import CardDataRefused, refuse_card_data
from .redaction import redact
from .settings import archive_bucket_name, archive_kms_key_arn

configure_logging()

ARCHIVE_PREFIX = "audit"
REQUIRED_FIELDS = ("type", "transaction_id", "created_at")
# What the key may hold: no "/" or ".." from a message can move an object elsewhere.
_TRANSACTION_ID = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")
_MESSAGE_TYPE = re.compile(r"\A[a-z][a-z0-9._-]{0,63}\Z")
ALREADY_ARCHIVED = "PreconditionFailed"  # If-None-Match: * found the object


class PoisonMessage(ValueError):
    """A message that can never be archived; ``reason`` is a fixed code, never message content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ArchiveObject:
    key: str
    body: bytes
    card_data_masked: bool


def _created_date(value: Any) -> datetime:
    if not isinstance(value, str):
        raise PoisonMessage("invalid_created_at")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PoisonMessage("invalid_created_at") from None
    if moment.tzinfo is None:
        raise PoisonMessage("invalid_created_at")
    return moment.astimezone(UTC)


def archive_object(record: dict[str, Any]) -> ArchiveObject:
    """The object one SQS record becomes; raises :class:`PoisonMessage` when it cannot be one."""
    try:
        message = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        raise PoisonMessage("invalid_json") from None
    if not isinstance(message, dict):
        raise PoisonMessage("not_an_object")
    missing = [name for name in REQUIRED_FIELDS if name not in message]
    if missing:
        raise PoisonMessage("missing_" + missing[0])
    transaction_id, message_type = message["transaction_id"], message["type"]
    if not (isinstance(transaction_id, str) and _TRANSACTION_ID.match(transaction_id)):
        raise PoisonMessage("invalid_transaction_id")
    if not (isinstance(message_type, str) and _MESSAGE_TYPE.match(message_type)):
        raise PoisonMessage("invalid_type")
    created = _created_date(message["created_at"])

    attributes = record.get("attributes") or {}
    # The sender's deduplication id (the transaction id today); the message id for a sender
    # without one. Hashed: it may hold any printable character.
    deduplication_id = attributes.get("MessageDeduplicationId") or record["messageId"]
    digest = hashlib.sha256(deduplication_id.encode("utf-8")).hexdigest()[:16]
    key = f"{ARCHIVE_PREFIX}/{created:%Y/%m/%d}/{transaction_id}/{message_type}-{digest}.json"

    redacted = redact(message)
    # The whole document passes the redaction, delivery metadata too: the archive holds no digit
    # run that looks like a PAN. (SQS's 20-digit sequence number would, so it is left out.)
    document = redact(
        {
            "message": redacted,
            "sqs": {
                "message_id": record.get("messageId"),
                "message_group_id": attributes.get("MessageGroupId"),
                "deduplication_id": deduplication_id,
                "sent_at": _sent_at(attributes.get("SentTimestamp")),
                "source": record.get("eventSourceARN"),
            },
        }
    )
    body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    return ArchiveObject(key=key, body=body, card_data_masked=redacted != message)


def _sent_at(epoch_ms: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC).isoformat(timespec="milliseconds")
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass
class BatchResult:
    archived: int = 0
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failures]}


class AuditArchiver:
    def __init__(self, s3: Any, bucket: str, kms_key_arn: str, logger: Any = None) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._kms_key_arn = kms_key_arn
        self._log = logger or get_logger()

    def archive_batch(self, records: list[dict[str, Any]]) -> BatchResult:
        result = BatchResult()
        failed_groups: set[str] = set()
        for record in records:
            message_id = record.get("messageId", "")
            group = (record.get("attributes") or {}).get("MessageGroupId", "")
            if group in failed_groups:
                result.failures.append(message_id)  # keeps the group's order: retried after the failed one
                continue
            if not self._archive_one(record, message_id, result):
                result.failures.append(message_id)
                failed_groups.add(group)
        self._log.info(
            "audit_batch_archived",
            received=len(records),
            archived=result.archived,
            duplicates=result.duplicates,
            failed=len(result.failures),
        )
        return result

    def _archive_one(self, record: dict[str, Any], message_id: str, result: BatchResult) -> bool:
        try:
            archived = archive_object(record)
        except PoisonMessage as poison:
            receives = (record.get("attributes") or {}).get("ApproximateReceiveCount")
            self._log.error(
                "audit_message_rejected", message_id=message_id, reason=poison.reason, receive_count=receives
            )
            return False
        if archived.card_data_masked:
            # A sender put card data in an audit message: archived masked; the sender needs fixing.
            self._log.error("audit_message_card_data_masked", message_id=message_id, key=archived.key)
        try:
            refuse_card_data(json.loads(archived.body), "archive_object")
        except CardDataRefused as refused:
            # Card data the masking does not recognise: never written; the sender needs fixing.
            self._log.error("audit_archive_refused_card_data", message_id=message_id, field=refused.path)
            return False
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=archived.key,
                Body=archived.body,
                ContentType="application/json",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self._kms_key_arn,
                IfNoneMatch="*",
            )
        except BotoCoreError as error:  # no answer from S3: the message comes again
            self._log.error(
                "audit_archive_write_failed", message_id=message_id, key=archived.key, error_code=type(error).__name__
            )
            return False
        except ClientError as error:
            if error_code(error) == ALREADY_ARCHIVED:
                result.duplicates += 1
                self._log.info("audit_message_already_archived", message_id=message_id, key=archived.key)
                return True
            self._log.error(
                "audit_archive_write_failed", message_id=message_id, key=archived.key, error_code=error_code(error)
            )
            return False
        result.archived += 1
        return True


@functools.lru_cache(maxsize=1)
def archiver() -> AuditArchiver:
    """Built once per container, at the first batch (a failure is not cached)."""
    return AuditArchiver(client("s3"), archive_bucket_name(), archive_kms_key_arn())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_request_context(operation="archive_audit_batch", request_id=getattr(context, "aws_request_id", None))
    return archiver().archive_batch(event.get("Records") or []).response()
