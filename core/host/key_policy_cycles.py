"""Refusing, at synth, a key-policy statement that would make a Terraform dependency cycle.

The platform key's policy is an argument of the key. A statement naming a resource that is itself
built from the key (a topic or queue encrypted under it, anything waiting for those) makes the key
wait for that resource and the resource for the key: Terraform then fails at validate/plan with
``Cycle: aws_sns_topic..., aws_kms_key...``, naming neither the plugin nor the statement. Here the
statements are checked against the stack's reference graph before the policy is rendered, so the
failure names both, and how to avoid it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from payments_platform.core.context import KeyPolicyStatement
from payments_platform.core.errors import RegistrationError

# ${aws_sns_topic.x.arn}, ${data.aws_iam_policy_document.y.json}: a reference to another block.
_REFERENCE = re.compile(r"\$\{(data\.)?([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)")


def refuse_key_policy_cycles(
    config: Mapping[str, Any],
    key_address: str,
    statements: Iterable[KeyPolicyStatement],
    resolve: Callable[[str], str],
) -> None:
    """Raise :class:`RegistrationError` for the first statement (in sid order) naming a block of
    ``config`` (the stack's Terraform JSON, resolved) that depends on ``key_address``;
    ``resolve`` turns a statement's tokens into the references they synthesize to."""
    blocks = _blocks(config)
    waiting_for_key = _dependents(blocks, key_address)
    for statement in sorted(statements, key=lambda s: s.sid):
        named = sorted(_references(resolve(json.dumps(statement.statement))) & waiting_for_key)
        if not named:
            continue
        address = named[0]
        built_by = _plugin_of(blocks.get(address, {}))
        through = f" (built by plugin '{built_by}')" if built_by else ""
        raise RegistrationError(
            f"plugin '{statement.plugin}' key policy statement '{statement.sid}' names {address}{through}, which "
            f"depends on the platform key ({key_address}): the key would wait for it and it for the key, a "
            "dependency cycle Terraform refuses. Name it by an ARN built from its literal name "
            "(ctx.aws.arn(...), a published value's physical_arn), or use the published value's grant or "
            "subscription (e.g. topic.subscribe_queue), which does"
        )


def _blocks(config: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every resource and data source, by its address (``type.name``, ``data.type.name``)."""
    blocks: dict[str, Mapping[str, Any]] = {}
    for prefix, section in (("", config.get("resource") or {}), ("data.", config.get("data") or {})):
        for block_type, items in section.items():
            for name, body in items.items():
                blocks[f"{prefix}{block_type}.{name}"] = body
    return blocks


def _references(text: str) -> set[str]:
    return {f"{data or ''}{block_type}.{name}" for data, block_type, name in _REFERENCE.findall(text)}


def _dependents(blocks: Mapping[str, Mapping[str, Any]], root: str) -> set[str]:
    """``root`` and every block that refers to it, directly or through others (or depends_on it)."""
    depends_on = {
        address: (_references(json.dumps(body)) | set(body.get("depends_on") or ())) - {address}
        for address, body in blocks.items()
    }
    found = {root}
    changed = True
    while changed:
        changed = False
        for address, targets in depends_on.items():
            if address not in found and targets & found:
                found.add(address)
                changed = True
    return found


def _plugin_of(body: Mapping[str, Any]) -> str:
    """The plugin whose scope holds the block (``<stack>/<plugin>/...``; ``platform`` is the core's)."""
    path = str(body.get("//", {}).get("metadata", {}).get("path", ""))
    parts = path.split("/")
    return parts[1] if len(parts) > 2 else ""
