"""Fixes to the local AWS emulator (moto), applied inside the emulator's process.

The `local` environment deploys exactly what AWS gets; where moto behaves unlike AWS in a way
that breaks that configuration, the gap is closed here, never in what we synthesize. Each fix
names the AWS behaviour it restores. ``apply_moto_fixes()`` is idempotent; the e2e tests call it
before starting their in-process server, and ``make local`` starts the server through
``python -m payments_platform.core.emulator`` (moto_server's own arguments).

* **Conditional bucket-policy statements.** moto evaluates a bucket policy on object requests
  but gives the statements no request context (no ``aws:SecureTransport``, no encryption
  headers) and then counts an unevaluable condition as met -- so the archive bucket's
  ``DenyInsecureTransport`` refuses every object request. AWS evaluates those conditions against
  the request (over TLS, with the encryption headers our writers send, none of them applies).
  With the fix, a conditional statement moto has no context for does not apply; unconditional
  statements are enforced as before. (moto enforces no IAM policy at all, so this loses nothing
  the emulator checked correctly.)
* **A queue's RedrivePolicy as SQS returns it.** moto re-serializes it with spaces
  (``{"deadLetterTargetArn": ...}``); SQS returns compact JSON, which is what the platform
  configures, so every re-plan showed a whitespace-only update of the audit queue.
"""

from __future__ import annotations

import json
import sys
from typing import Any

_applied = False


def apply_moto_fixes() -> None:
    global _applied
    if _applied:
        return
    from moto.iam import access_control

    statement_class = access_control.IAMPolicyStatement
    moto_is_action_permitted = statement_class.is_action_permitted

    def is_action_permitted(self: Any, action: str, resource: str = "*", principal: str | None = None,
                            incoming_condition_values: dict[str, str] | None = None) -> Any:
        if self._statement.get("Condition") and not incoming_condition_values:
            return access_control.PermissionResult.NEUTRAL  # no request context: cannot apply
        return moto_is_action_permitted(self, action, resource, principal, incoming_condition_values)

    statement_class.is_action_permitted = is_action_permitted

    from moto.sqs import models as sqs_models

    moto_queue_attributes = sqs_models.Queue.attributes.fget

    def queue_attributes(self: Any) -> dict[str, Any]:
        result = moto_queue_attributes(self)
        if "RedrivePolicy" in result:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    sqs_models.Queue.attributes = property(queue_attributes)
    _applied = True


def main(argv: list[str] | None = None) -> None:
    """``moto_server`` with the fixes: same arguments (``-H 127.0.0.1 -p 4566``)."""
    apply_moto_fixes()
    from moto.server import main as moto_server

    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
