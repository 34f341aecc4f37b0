"""Invoke a deployed function's handler the way Lambda would, in a fresh interpreter.

moto cannot run Lambda functions without Docker, so the end-to-end tests play Lambda
themselves: this script is one "container". It imports the handler named by the deployed
function's configuration from the unpacked deployment package (the very zip Terraform
uploaded: ``payments_runtime`` plus the vendored structlog), with only the environment the
deployed function has (set by the caller, plus AWS_ENDPOINT_URL pointing at the emulator),
and calls it once per invocation, in order, like a warm container.

    python lambda_driver.py SPEC.json RESULTS.json

SPEC: {"package_dir": str, "handler": "module.function", "function_name": str,
       "invocations": [{"event": {...}, "remaining_ms": int}, ...]}
RESULTS: {"responses": [...], "module_files": {module: file}}

The runtime logs JSON lines to stdout; results go to a file so the two never mix.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import uuid


class LambdaContext:
    """What the handlers read from Lambda's context object."""

    def __init__(self, function_name: str, remaining_ms: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(spec_path: str, results_path: str) -> int:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    # The package root first, as on Lambda (/var/task): its structlog wins over any installed one.
    sys.path.insert(0, spec["package_dir"])
    module_name, _, function_name = spec["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    responses = []
    for invocation in spec["invocations"]:
        context = LambdaContext(spec["function_name"], invocation["remaining_ms"])
        responses.append(handler(invocation["event"], context))
    top_level = {module_name.split(".")[0], "structlog", "botocore"}
    module_files = {name: getattr(sys.modules.get(name), "__file__", None) for name in sorted(top_level)}
    with open(results_path, "w", encoding="utf-8") as handle:
        json.dump({"responses": responses, "module_files": module_files}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
