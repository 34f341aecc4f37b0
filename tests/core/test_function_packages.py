"""A plugin's own handler packaged by core's function_package: reproducible, signed where the
runtime's package is, able to bundle the platform's logging and card-data redaction, and run as
Lambda runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from payments_platform.core import (
    PluginDeclaration,
    RegistrationError,
    function_package,
    hookimpl,
    keys,
    platform_function,
)
from payments_platform.core.function_packages import FIXED_TIMESTAMP, package_entries, store_zip
from payments_platform.core.testing import stub_provider, stub_values, synth

HANDLER = """\
import json
import logging

from payments_runtime.logging_config import configure_logging

import structlog


def handle(event, context):
    configure_logging()
    structlog.get_logger().info("webhook_event", card_number=event.get("card"), note="sent")
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def plugin_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A distribution's source: the registration package with its function in a subpackage."""
    root = tmp_path_factory.mktemp("dist")
    function = root / "pp_test_hooks" / "function"
    function.mkdir(parents=True)
    (root / "pp_test_hooks" / "__init__.py").write_text("")
    (root / "pp_test_hooks" / "plugin.py").write_text("import payments_platform.core\n")
    (function / "__init__.py").write_text("")
    (function / "handler.py").write_text(HANDLER)
    (function / "event.schema.json").write_text('{"type": "object"}')
    (function / "__pycache__").mkdir()
    (function / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"stale")
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.startswith("pp_test_hooks")]:
        del sys.modules[name]


def runtime_package(**fields: Any) -> keys.FunctionPackage:
    base = stub_values()[keys.RUNTIME_PACKAGE]
    return keys.FunctionPackage(
        code=base.code, source_code_hash=base.source_code_hash, runtime="python3.12", architecture="x86_64", **fields
    )


def support() -> tuple[keys.PackageTree, ...]:
    from payments_platform.plugins.api.packaging import support_trees

    return support_trees()


# --------------------------------------------------------------------------- the zip


def test_only_the_function_subpackage_and_its_parents_init_are_archived_under_its_dotted_path(plugin_source):
    names = [name for name, _ in package_entries("pp_test_hooks.function")]
    assert names == [
        "pp_test_hooks/__init__.py",
        "pp_test_hooks/function/__init__.py",
        "pp_test_hooks/function/event.schema.json",
        "pp_test_hooks/function/handler.py",
    ]  # no plugin.py (it imports the core, absent on Lambda), no caches


def test_two_builds_are_byte_identical_with_pinned_zip_fields(plugin_source, tmp_path):
    first = store_zip(package_entries("pp_test_hooks.function", support=support()), tmp_path / "a")
    second = store_zip(package_entries("pp_test_hooks.function", support=support()), tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == f"{first.sha256_hex}.zip"
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {(i.date_time, i.external_attr >> 16, i.compress_type) for i in infos} == {
        (FIXED_TIMESTAMP, 0o100644, zipfile.ZIP_STORED)
    }


def test_runtime_support_bundles_the_platforms_logging_and_structlog(plugin_source):
    names = {name for name, _ in package_entries("pp_test_hooks.function", support=support())}
    assert {"payments_runtime/logging_config.py", "payments_runtime/redaction.py", "structlog/__init__.py"} <= names


def test_the_packaged_handler_logs_through_the_platforms_redaction(plugin_source, tmp_path):
    built = store_zip(package_entries("pp_test_hooks.function", support=support()), tmp_path)
    code = tmp_path / "task"
    with zipfile.ZipFile(built.path) as archive:
        archive.extractall(code)
    # -S: only the package (as /var/task) and the standard library, as on Lambda.
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from pp_test_hooks.function.handler import handle\n"
        "print(handle({'card': '4111111111111111'}, None))\n"
    )
    run = subprocess.run([sys.executable, "-S", "-c", script, str(code)], capture_output=True, text=True, check=True)
    log_line = next(line for line in run.stdout.splitlines() if "webhook_event" in line)
    assert "4111111111111111" not in run.stdout + run.stderr
    assert json.loads(log_line)["event"] == "webhook_event"
    assert run.stdout.strip().endswith("{'ok': True}")


def test_a_source_that_does_not_import_is_refused_by_name():
    with pytest.raises(RegistrationError, match="'no_such_hooks.function' is not an importable"):
        package_entries("no_such_hooks.function")


def test_a_vendored_module_that_is_not_a_package_directory_is_refused(plugin_source):
    with pytest.raises(RegistrationError, match="vendored .typing_extensions. must be a top-level package"):
        package_entries("pp_test_hooks.function", vendor=("typing_extensions",))


# --------------------------------------------------------------------------- synth


class Hooks:
    """A third-party plugin whose function runs its own handler package."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="hooks",
            description="function_package test plugin",
            requires=(keys.NETWORK, keys.RUNTIME_PACKAGE),
            emulated_services=("lambda", "logs"),
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        package = function_package(ctx, "hooks_package", source="pp_test_hooks.function", **self.options)
        platform_function(
            ctx,
            "hooks_sender",
            key="hooks-sender",
            description="sends webhooks",
            role_description="sends webhooks",
            package=package,
            handler="pp_test_hooks.function.handler.handle",
            environment={},
            reserved_concurrency=1,
            log_retention_days=30,
        )


def hooks_function(stack: Any) -> dict[str, Any]:
    (body,) = [b for b in stack.resources("aws_lambda_function").values() if b["handler"].startswith("pp_test_hooks")]
    return body


def test_unsigned_environment_deploys_the_plugin_package_from_the_synth_output(plugin_source):
    stubs = stub_provider(
        "stubs", (keys.NETWORK, keys.RUNTIME_PACKAGE), values={keys.RUNTIME_PACKAGE: runtime_package()}
    )
    stack = synth(["hooks"], extra_plugins={"stubs": stubs, "hooks": Hooks()}, cache=False)
    function = hooks_function(stack)
    assert function["filename"].startswith("assets/") and function["filename"].endswith(".zip")
    assert (function["runtime"], function["architectures"]) == ("python3.12", ["x86_64"])
    assert "code_signing_config_arn" not in function
    assert not stack.resources("aws_signer_signing_job")


def test_signed_environment_signs_the_plugin_package_with_the_platforms_profile(plugin_source):
    signer = keys.CodeSigner(
        bucket_name="payments-artifacts-test",
        profile_name="payments_lambda_test_1",
        code_signing_config_arn="arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-stub",
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/stub",
    )
    stubs = stub_provider(
        "stubs", (keys.NETWORK, keys.RUNTIME_PACKAGE), values={keys.RUNTIME_PACKAGE: runtime_package(signer=signer)}
    )
    stack = synth(["hooks"], extra_plugins={"stubs": stubs, "hooks": Hooks()}, cache=False)
    (upload,) = stack.resources("aws_s3_object").values()
    (job,) = stack.resources("aws_signer_signing_job").values()
    assert upload["bucket"] == "payments-artifacts-test" and upload["key"].startswith("unsigned/")
    assert upload["kms_key_id"] == signer.kms_key_arn
    assert job["profile_name"] == "payments_lambda_test_1"
    assert job["destination"]["s3"] == {"bucket": "payments-artifacts-test", "prefix": "signed/"}
    function = hooks_function(stack)
    assert function["code_signing_config_arn"] == signer.code_signing_config_arn
    assert function["s3_key"].endswith(".signed_object[0].s3[0].key}") and "filename" not in function


def test_with_the_real_api_plugin_the_plugin_function_runs_under_its_code_signing_config(plugin_source):
    stack = synth(
        ["network", "storage", "messaging", "api"],
        extra_plugins={"hooks": Hooks(runtime_support=True)},
        cache=False,
    )
    (config,) = stack.resources("aws_lambda_code_signing_config")
    functions = stack.resources("aws_lambda_function").values()
    assert {f["code_signing_config_arn"] for f in functions} == {f"${{aws_lambda_code_signing_config.{config}.arn}}"}
    assert len(stack.resources("aws_signer_signing_job")) == 2  # the runtime's package and the plugin's
    assert len(stack.resources("aws_signer_signing_profile")) == 1


def test_runtime_support_from_a_provider_offering_none_is_refused_naming_the_plugin(plugin_source):
    stubs = stub_provider(
        "stubs", (keys.NETWORK, keys.RUNTIME_PACKAGE), values={keys.RUNTIME_PACKAGE: runtime_package()}
    )
    with pytest.raises(Exception, match="plugin 'hooks' package 'hooks_package': runtime_support asked"):
        synth(["hooks"], extra_plugins={"stubs": stubs, "hooks": Hooks(runtime_support=True)}, cache=False)
