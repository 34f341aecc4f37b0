"""`local up` waits for the rotations Terraform started with ``rotate_immediately = true``.

On AWS, RotateSecret returns before the rotation function has run. A secret Terraform creates
with no value and whose first rotation makes it (no plan, log or state then holds the value)
has no AWSCURRENT version for the seconds that rotation takes; functions reading it meanwhile
fail closed. The emulator runs those steps once the local gateway is up (emulator/moto_rotation.py),
so `local up` announces the deployment only when every such secret has its current version --
or stops, naming the secret, when its rotation does not finish."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from payments_platform.core.local.processes import LocalRunError

WAIT_S = 120.0
_SECRET_REF = re.compile(r"^\$\{aws_secretsmanager_secret\.([^.}]+)\.(?:id|arn)\}$")


def immediately_rotated_secrets(config: dict[str, Any]) -> list[str]:
    """Names of the secrets whose rotation the synthesized config starts at once."""
    resources = config.get("resource") or {}
    secrets = resources.get("aws_secretsmanager_secret") or {}
    names = []
    for rotation in (resources.get("aws_secretsmanager_secret_rotation") or {}).values():
        if rotation.get("rotate_immediately", True) is False:
            continue
        match = _SECRET_REF.match(str(rotation.get("secret_id", "")))
        if match and match.group(1) in secrets:
            names.append(secrets[match.group(1)]["name"])
    return sorted(names)


def wait_for_first_rotations(
    secretsmanager: Any, config: dict[str, Any], *, wait_s: float = WAIT_S, sleep: Callable[[float], None] = time.sleep
) -> None:
    pending = immediately_rotated_secrets(config)
    deadline = time.monotonic() + wait_s
    while pending:
        pending = [name for name in pending if not _has_current_version(secretsmanager, name)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise LocalRunError(
                f"the first rotation of {', '.join(pending)} did not finish within {wait_s:.0f} s: "
                "the rotation function's log group and .payments-local/emulator.log say why"
            )
        sleep(0.5)


def _has_current_version(secretsmanager: Any, name: str) -> bool:
    versions = secretsmanager.describe_secret(SecretId=name).get("VersionIdsToStages") or {}
    return any("AWSCURRENT" in stages for stages in versions.values())
