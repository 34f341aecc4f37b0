"""Invoking the payment connector (runtime/connector_protocol.py) from the processor and the
reconciler: one synchronous Lambda invoke per question, bounded by a timeout, never retried here --
an authorize without an answer is settled by a status query for the same idempotency key, later."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import error_code
from .connector_protocol import AuthorizeRequest, ConnectorAnswer, ProtocolError, StatusRequest, parse_answer
from .logging_config import get_logger

# Below this a call cannot be answered in time: the outcome is left to a status query.
MIN_CALL_MS = 100


class ConnectorClient:
    def __init__(self, invoke_client: Callable[[int], Any], function_name: str):
        self._invoke_client = invoke_client
        self._function_name = function_name

    def ask(self, request: AuthorizeRequest | StatusRequest, timeout_ms: int) -> ConnectorAnswer | None:
        """The connector's answer, or None when it gave none within ``timeout_ms`` (a timeout, a
        function error, an answer outside the contract): the outcome is then unknown, never
        guessed. Logs name the operation and the error class, never the payload (card data)."""
        operation = "authorize" if isinstance(request, AuthorizeRequest) else "status"
        log = get_logger().bind(connector_operation=operation, idempotency_key=request.idempotency_key)
        if timeout_ms < MIN_CALL_MS:
            log.warning("connector.no_time", timeout_ms=timeout_ms)
            return None
        try:
            response = self._invoke_client(timeout_ms).invoke(
                FunctionName=self._function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(request.payload(), separators=(",", ":")).encode("utf-8"),
            )
            body = response["Payload"].read()
        except (BotoCoreError, ClientError) as error:
            log.warning("connector.no_answer", error_class=type(error).__name__, aws_error_code=error_code(error))
            return None
        if response.get("FunctionError"):
            log.warning("connector.function_error", function_error=str(response["FunctionError"])[:64])
            return None
        try:
            return parse_answer(json.loads(body))
        except (ValueError, ProtocolError) as error:
            log.error("connector.answer_invalid", error_class=type(error).__name__)
            return None
