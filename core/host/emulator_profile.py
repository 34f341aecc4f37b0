"""How the AWS provider reaches a local emulator: a profile of the AWS SDK's shared config file
(its ``services`` section: one ``endpoint_url`` per emulated service) instead of the provider's
``endpoints`` block.

Why (issue #31, ``--watch`` edit → served ≤ 10 s): the AWS provider 5.100 spends 2.1–3 s validating
a provider configuration holding an ``endpoints`` block -- whether it names one service or sixteen
-- and Terraform asks for that validation on every graph walk, three per ``terraform apply``
(validate, plan, apply). Measured (BENCHMARKS.md "Warm start"): a one-resource targeted apply took
11.3 s with the block, 4.5 s with this profile. The endpoints are the same: only the services
named are routed to the emulator; any other call still goes to AWS (and fails on the emulator's
credentials), as with the block.

The file is an asset of the stack (``cdk.tf.json`` names it by a path relative to the stack
directory, where Terraform and its provider run) with a fixed asset hash: its content follows the
per-run emulator port, the stack's text -- and so the warm-start snapshot key -- does not.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

PROFILE = "payments-emulator"
FILE_NAME = "aws-emulator.config"
ASSET_ID = "emulator_profile"


@cache
def sdk_service_key(service: str) -> str | None:
    """The shared config's key for a provider ``endpoints`` key: the AWS SDK's service id, lower
    case, spaces as underscores (``logs`` → ``cloudwatch_logs``); None when botocore does not know
    the service (the provider's ``endpoints`` block is then used)."""
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import create_loader

    try:
        model = create_loader().load_service_model(service, "service-2")
    except DataNotFoundError:
        return None
    return str(model["metadata"]["serviceId"]).replace(" ", "_").lower()


def profile_text(endpoint: str, services: Iterable[str]) -> str | None:
    """The shared config file routing ``services`` to ``endpoint``; None when one of them has no
    known SDK service id."""
    keys = set()
    for service in services:
        key = sdk_service_key(service)
        if key is None:
            return None
        keys.add(key)
    lines = [f"[profile {PROFILE}]", f"services = {PROFILE}", "", f"[services {PROFILE}]"]
    for key in sorted(keys):
        lines += [f"{key} =", f"  endpoint_url = {endpoint}"]
    return "\n".join(lines) + "\n"


def profile_provider_arguments(stack: Any, endpoint: str, services: Iterable[str]) -> dict[str, Any] | None:
    """The provider arguments naming the profile (its file added to ``stack`` as an asset), or None
    when the services cannot all be named in a profile."""
    from payments_platform.core.cdktf_adapter import AssetType, TerraformAsset

    text = profile_text(endpoint, services)
    if text is None:
        return None
    asset = stack.node.try_find_child(ASSET_ID)
    if asset is None:
        asset = TerraformAsset(
            stack, ASSET_ID, path=str(_source_file(text)), type=AssetType.FILE, asset_hash="emulator-profile"
        )
    return {"profile": PROFILE, "shared_config_files": [asset.path]}


def _source_file(text: str) -> Path:
    """Synth copies an asset from a file: one per content, left for the next synth (a loopback URL)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir(), "payments-platform-emulator-profiles", digest, FILE_NAME)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        scratch.write_text(text)
        scratch.replace(path)
    return path
