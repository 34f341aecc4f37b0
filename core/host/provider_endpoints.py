"""The AWS provider's ``endpoints`` keys: the service ids a plugin may ask the local emulator for.

Read from the pinned provider bindings' source (``AwsProviderEndpoints``' jsii name mapping)
without importing them: importing the bindings starts jsii, seconds that ``plugins`` and a
plugin's declaration should not pay. The list follows the pinned provider version by itself.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

from payments_platform.core._provider_assembly import PROVIDER_PACKAGE

ENDPOINTS_CLASS = "AwsProviderEndpoints"


@lru_cache(maxsize=1)
def provider_endpoint_services() -> frozenset[str]:
    """Every service id the AWS provider's ``endpoints`` block accepts (e.g. ``wafv2``)."""
    spec = importlib.util.find_spec(PROVIDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{PROVIDER_PACKAGE} is not installed")
    source = Path(next(iter(spec.submodule_search_locations)), "provider", "__init__.py")
    text = source.read_text(encoding="utf-8")
    # Parse only the class's decorator: the whole 450 kB module takes ~250 ms to parse.
    try:
        end = text.index(f"class {ENDPOINTS_CLASS}:")
        start = text.rindex("@jsii.data_type(", 0, end)
    except ValueError:
        raise ImportError(
            f"{source} defines no {ENDPOINTS_CLASS}; is {PROVIDER_PACKAGE} the expected version?"
        ) from None
    (node,) = ast.parse(text[start:end] + f"class {ENDPOINTS_CLASS}: pass\n", filename=str(source)).body
    # jsii's name_mapping: Python argument → Terraform key ("lambda_" → "lambda").
    for decorator in getattr(node, "decorator_list", ()):
        for keyword in getattr(decorator, "keywords", ()):
            if keyword.arg == "name_mapping":
                return frozenset(ast.literal_eval(keyword.value).values())
    raise ImportError(
        f"{source}: {ENDPOINTS_CLASS} has no jsii name mapping; is {PROVIDER_PACKAGE} the expected version?"
    )
