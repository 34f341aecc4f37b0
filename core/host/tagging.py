"""A cdktf aspect that puts the platform tags on every taggable resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payments_platform.core.cdktf_adapter import TerraformResource, implements_aspect


@implements_aspect
class PlatformTags:
    def __init__(self, tags: Mapping[str, str]) -> None:
        self._tags = dict(tags)
        self.taggable_types: set[str] = set()

    def visit(self, node: Any) -> None:
        # A resource class is taggable when its binding exposes a ``tags`` property.
        if not isinstance(node, TerraformResource) or not hasattr(type(node), "tags_input"):
            return
        self.taggable_types.add(node.terraform_resource_type)
        own = node.tags_input or {}
        node.tags = {**self._tags, **own}
