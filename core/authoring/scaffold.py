"""``payments-platform new-plugin NAME [--kind KIND]``: a plugin distribution that passes its own tests.

The core's own kind, ``queue``, shows the whole contract on one small, real example -- a queue the
transaction processor may send to: the entry point; ``payments_declare`` with a settings model (a cross-field check
included), ``requires`` (the processor's published handle), ``emulated_services`` matching what
it creates and an API range; ``payments_resources`` creating the queue under the platform key;
``payments_wiring`` granting the processor send rights through the queue's own value; a README;
tests that stand in for the api plugin with ``stub_provider`` and check the rendered policy.
Every other kind is an installed plugin's (``payments_scaffold_kinds``, core/scaffold_kinds.py);
for every kind the core writes the pyproject.toml with the entry point. Everything is checked before anything is written, and the files land in a temporary sibling
directory that is renamed into place, so a refused or failed run leaves nothing behind.
"""

from __future__ import annotations

import importlib.util
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from string import Template

from payments_platform.core.api_version import PLUGIN_API_VERSION
from payments_platform.core.errors import ConfigError, PluginHookError
from payments_platform.core.host.plugin_manager import discover_plugins, installed_plugins
from payments_platform.core.scaffold_kinds import ScaffoldKind

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
CORE = "the core"


@dataclass(frozen=True)
class PluginScaffold:
    name: str  # the entry-point name environments enable
    directory: Path
    kind: ScaffoldKind

    @property
    def package(self) -> str:
        return f"payments_{self.name}"

    @property
    def distribution(self) -> str:
        return f"payments-{self.name.replace('_', '-')}"

    @property
    def camel(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def settings_class(self) -> str:
        return f"{self.camel}Settings"

    def values(self) -> dict[str, str]:
        """What the templates' placeholders stand for (core/scaffold_kinds.py PLACEHOLDERS)."""
        major = PLUGIN_API_VERSION.split(".")[0]
        return {
            "name": self.name,
            "package": self.package,
            "distribution": self.distribution,
            "slug": self.name.replace("_", "-"),  # AWS names take hyphens
            "settings_class": self.settings_class,
            "camel": self.camel,
            "sid": f"{self.camel}Send",  # IAM Sids are alphanumeric
            "requires_api": f">={PLUGIN_API_VERSION},<{int(major) + 1}",
        }

    def next_step(self) -> str:
        return Template(self.kind.next_step).substitute(self.values())

    def files(self) -> dict[str, str]:
        values = self.values()
        packages = ", ".join(f'"{package.format(package=self.package)}"' for package in self.kind.packages)
        pyproject = Template(PYPROJECT).substitute(
            values, summary=Template(self.kind.summary).substitute(values), packages=packages
        )
        written = {path.format(**values): Template(text).substitute(values) for path, text in self.kind.files.items()}
        return {"pyproject.toml": pyproject, **written}


def available_kinds() -> dict[str, tuple[str, ScaffoldKind]]:
    """Every kind ``new-plugin`` can write, by name: who contributes it (``plugin 'api'``, or the
    core) and the kind. Every installed plugin is asked (``payments_scaffold_kinds``)."""
    kinds: dict[str, tuple[str, ScaffoldKind]] = {QUEUE.name: (CORE, QUEUE)}
    manager = installed_plugins()
    for plugin, kind in manager.scaffold_kinds():
        if kind.name in kinds:  # between plugins the host refused it already
            raise PluginHookError(
                f"{manager.source(plugin).label} registered the ScaffoldKind {kind.name!r} in payments_scaffold_kinds, the core's own kind"
            )
        kinds[kind.name] = (f"plugin '{plugin}'", kind)
    return kinds


def check_new_plugin(name: str, directory: str | None, kind: str = "queue") -> PluginScaffold:
    """The scaffold for ``name``, or a ConfigError saying why it cannot be created."""
    kinds = available_kinds()
    if kind not in kinds:
        listed = "; ".join(f"{known} ({who}: {found.description})" for known, (who, found) in sorted(kinds.items()))
        raise ConfigError(f"unknown plugin kind {kind!r}; installed kinds: {listed}")
    if not (NAME_PATTERN.match(name) and name.isidentifier() and not keyword.iskeyword(name)):
        raise ConfigError(
            f"plugin name {name!r} must be a lowercase Python identifier: a letter, then letters, digits or "
            "underscores (e.g. fraud_rules)"
        )
    installed = discover_plugins()
    if name in installed:
        raise ConfigError(f"{installed[name].label} is already installed; choose another name")
    scaffold = PluginScaffold(
        name, Path(directory) if directory else Path(f"payments-{name.replace('_', '-')}"), kinds[kind][1]
    )
    if importlib.util.find_spec(scaffold.package) is not None:
        raise ConfigError(f"a Python package named {scaffold.package} is already importable; choose another name")
    if scaffold.directory.exists() or scaffold.directory.is_symlink():
        raise ConfigError(f"{scaffold.directory} already exists; pass --dir with a new directory")
    return scaffold


def write_scaffold(scaffold: PluginScaffold) -> list[str]:
    """Write every file, all or nothing; the relative paths written, sorted."""
    target = scaffold.directory
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ConfigError(f"cannot create {target}: {exc.strerror or exc}") from None
    try:
        files = scaffold.files()
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.chmod(0o777 & ~_umask())
        os.rename(staging, target)  # fails rather than merge if someone created it meanwhile
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(files)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Every kind's: the entry point is the core's contract.
PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$summary"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["payments-platform"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The entry-point name is the plugin's name: the one environments.toml enables.
[project.entry-points."payments_platform.plugins"]
$name = "$package.plugin"

[tool.setuptools]
packages = [$packages]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

# The core's own kind: a generic plugin, a queue another plugin's function may send to.
QUEUE_FILES: dict[str, str] = {
    "README.md": """\
# $distribution

The `$name` plugin for payments-platform: an SQS queue, encrypted with the platform's KMS key,
that the transaction processor may send to. It is a working example of the whole plugin contract;
replace the queue with what your plugin is for.

## Use it

```sh
pip install -e .                                  # registers the entry point "$name"
payments-platform plugins --settings $name        # its settings and each environment's values
```

Enable it in an environment of `environments.toml` (it needs the api plugin, which publishes the
transaction processor), and set its settings under `[environments.<env>.settings.$name]`:

```toml
[environments.prod]
enable = ["$name"]

[environments.prod.settings.$name]
message_retention_seconds = 1209600
```

## Develop it

- `$package/plugin.py`, one hook per phase:
  - `payments_declare`: its name, settings model, `requires` (keys another plugin must publish:
    here `keys.TRANSACTION_PROCESSOR`; `uses` for optional ones, read with `ctx.get`),
    `emulated_services` (the AWS services its resources call, for the local emulator) and the
    plugin API range it was written for;
  - `payments_resources(ctx: PluginContext)`: the queue;
  - `payments_wiring(ctx: PluginContext)`: the processor may send to it. The grant is asked of the
    queue's own value (`keys.Queue`), on the role the api plugin *published*
    (`ctx[keys.TRANSACTION_PROCESSOR].role`): never a role named by string, never a raw statement.
- `$package/settings.py`: the settings model; unknown keys, wrong types and the cross-field check
  are refused naming the settings.
- `tests/`: run `pytest`. `stub_provider("api", [keys.TRANSACTION_PROCESSOR])` stands in for the
  api plugin (a real role the stub owns), `synth` synthesizes your plugin with it, and
  `stack.iam_statements("transaction-processor")` is the policy your grant rendered.

The hook contract is docs/PLUGIN_AUTHORS.md in payments-platform; every hook, context key, value
type, policy rule and setting is listed in its docs/REFERENCE.md. Import only from
`payments_platform.core`, never from another plugin.
""",
    "{package}/__init__.py": '''\
"""The $name plugin for payments-platform (hooks in plugin.py)."""
''',
    "{package}/settings.py": '''\
"""Settings the $name plugin accepts (``[environments.<env>.settings.$name]``)."""

from __future__ import annotations

from payments_platform.core import PluginSettings
from pydantic import Field, model_validator


class $settings_class(PluginSettings):
    # How long SQS keeps a message nobody received (60 s to 14 days).
    message_retention_seconds: int = Field(default=345600, ge=60, le=1209600)
    # How long a received message stays hidden from other consumers (up to 12 hours).
    visibility_timeout_seconds: int = Field(default=30, ge=0, le=43200)

    @model_validator(mode="after")
    def _hidden_no_longer_than_kept(self) -> $settings_class:
        """visibility_timeout_seconds ≤ message_retention_seconds"""
        if self.visibility_timeout_seconds > self.message_retention_seconds:
            raise ValueError(
                f"visibility_timeout_seconds ({self.visibility_timeout_seconds}) is longer than "
                f"message_retention_seconds ({self.message_retention_seconds})"
            )
        return self
''',
    "{package}/plugin.py": '''\
"""The $name plugin: a queue the transaction processor may send to.

- declare: settings, requires the processor's published handle, the services it calls
- resources: the queue, encrypted with the platform key, registered for monitoring
- wiring: the processor may send to it, a grant on the queue's own value
"""

from __future__ import annotations

from payments_platform.core import PluginContext, PluginDeclaration, aws, hookimpl, keys

from .settings import $settings_class


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="$name",
        description="A queue the transaction processor may send to",
        # Published by the api plugin: the host runs this plugin after it, and refuses to build
        # without it.
        requires=(keys.TRANSACTION_PROCESSOR,),
        uses=(),  # optional keys, read with ctx.get(key): None when no enabled plugin provides one
        settings=$settings_class,
        # What the resources below call: on the local emulator these endpoints point at it.
        emulated_services=("sqs",),
        requires_api="$requires_api",
    )


@hookimpl
def payments_resources(ctx: PluginContext) -> None:
    settings: $settings_class = ctx.settings
    kms = ctx[keys.KMS_KEY]
    name = ctx.naming.name("$slug", kind="sqs")
    queue = aws.sqs_queue.SqsQueue(
        ctx.scope,
        "queue",  # a construct id is forever: changing it replaces the queue
        name=name,
        message_retention_seconds=settings.message_retention_seconds,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        kms_master_key_id=kms.arn,  # PCI DSS 3.5.1: messages at rest under the platform CMK
    )
    ctx.monitoring.queue("$slug", queue_name=name)
    ctx.outputs.add("${name}_queue_url", queue.url, description="URL of the $name queue")
    # The queue as a value, so the grant in wiring is the core's least-privilege one.
    ctx.stash["queue"] = keys.Queue(
        name=name,
        arn=queue.arn,
        url=queue.url,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        kms_key_arn=kms.arn,
        region=ctx.aws.region,
    )


@hookimpl
def payments_wiring(ctx: PluginContext) -> None:
    queue: keys.Queue = ctx.stash.pop("queue")
    processor = ctx[keys.TRANSACTION_PROCESSOR]
    # sqs:SendMessage on this queue, and the key use SQS makes for the sender (${sid}Kms).
    queue.grant_send(ctx.roles, processor.role, sid="$sid")
''',
    "tests/test_plugin.py": '''\
"""The $name plugin, synthesized with payments-platform's test helpers."""

import pytest
from payments_platform.core import ConfigError, keys
from payments_platform.core.testing import assert_resource, stub_provider, synth

# Stands in for the api plugin: publishes the transaction processor with a real role of its own.
API = stub_provider("api", [keys.TRANSACTION_PROCESSOR])


def build(**settings):
    return synth(["$name"], extra_plugins={"api": API}, settings={"$name": settings})


def test_queue_is_named_with_the_environment_suffix():
    assert_resource(build(), "aws_sqs_queue", {"name": "$slug-test"})


def test_queue_is_encrypted_with_the_platform_key():
    assert build().one("aws_sqs_queue", name="$slug-test")["kms_master_key_id"].startswith("$${aws_kms_key.")


def test_processor_may_send_to_the_queue_and_use_the_key_only_through_sqs():
    stack = build()
    (queue,) = stack.resources("aws_sqs_queue")
    (key,) = stack.resources("aws_kms_key")
    assert stack.iam_statements("transaction-processor") == [
        {
            "Sid": "$sid",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": f"$${{aws_sqs_queue.{queue}.arn}}",
        },
        {
            "Sid": "${sid}Kms",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": f"$${{aws_kms_key.{key}.arn}}",
            "Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}},
        },
    ]


def test_retention_follows_the_setting():
    assert_resource(build(message_retention_seconds=86400), "aws_sqs_queue", {"message_retention_seconds": 86400})


def test_visibility_longer_than_retention_is_refused_naming_both_settings():
    with pytest.raises(ConfigError, match="settings 'message_retention_seconds' and 'visibility_timeout_seconds'"):
        build(message_retention_seconds=60, visibility_timeout_seconds=120)
''',
}


QUEUE = ScaffoldKind(
    "queue",
    "a queue the transaction processor may send to, the whole plugin contract on one example (the default)",
    QUEUE_FILES,
    next_step=(
        'enable it in an environment of environments.toml: enable = ["$name"] '
        "(with the api plugin enabled: it grants the transaction processor)"
    ),
)
