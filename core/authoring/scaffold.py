"""``payments-platform new-plugin NAME``: a plugin distribution that passes its own tests.

It holds what every plugin needs and nothing more: the entry point, ``payments_declare`` with
a settings model and an API range, one resource hook creating a log group the policy rules
accept, a README and tests written with ``payments_platform.core.testing``. Everything is
checked before anything is written, and the files land in a temporary sibling directory
that is renamed into place, so a refused or failed run leaves nothing behind.
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
from payments_platform.core.errors import ConfigError
from payments_platform.core.host.plugin_manager import discover_plugins

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PluginScaffold:
    name: str  # the entry-point name environments enable
    directory: Path

    @property
    def package(self) -> str:
        return f"payments_{self.name}"

    @property
    def distribution(self) -> str:
        return f"payments-{self.name.replace('_', '-')}"

    @property
    def settings_class(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + "Settings"

    def files(self) -> dict[str, str]:
        major = PLUGIN_API_VERSION.split(".")[0]
        values = {
            "name": self.name,
            "package": self.package,
            "distribution": self.distribution,
            "slug": self.name.replace("_", "-"),  # AWS names take hyphens
            "settings_class": self.settings_class,
            "requires_api": f">={PLUGIN_API_VERSION},<{int(major) + 1}",
        }
        return {path.format(**values): Template(text).substitute(values) for path, text in TEMPLATES.items()}


def check_new_plugin(name: str, directory: str | None) -> PluginScaffold:
    """The scaffold for ``name``, or a ConfigError saying why it cannot be created."""
    if not (NAME_PATTERN.match(name) and name.isidentifier() and not keyword.iskeyword(name)):
        raise ConfigError(
            f"plugin name {name!r} must be a lowercase Python identifier: a letter, then letters, digits or "
            "underscores (e.g. fraud_rules)"
        )
    installed = discover_plugins()
    if name in installed:
        raise ConfigError(f"{installed[name].label} is already installed; choose another name")
    scaffold = PluginScaffold(name, Path(directory) if directory else Path(f"payments-{name.replace('_', '-')}"))
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


TEMPLATES: dict[str, str] = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "The $name plugin for payments-platform"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["payments-platform"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The entry-point name is the plugin's name: the one environments.toml enables.
[project.entry-points."payments_platform.plugins"]
$name = "$package.plugin"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""",
    "README.md": """\
# $distribution

The `$name` plugin for payments-platform. It creates one CloudWatch log group, encrypted with the
platform's KMS key, kept `log_retention_days` days: replace it with what your plugin is for.

## Use it

```sh
pip install -e .                                  # registers the entry point "$name"
payments-platform plugins --settings $name        # its settings and each environment's values
```

Enable it by adding `"$name"` to an environment's `plugins` in `environments.toml`, and set its
settings under `[environments.<env>.settings.$name]`:

```toml
[environments.dev.settings.$name]
log_retention_days = 90
```

## Develop it

- `$package/plugin.py`: the hooks (`payments_declare`, `payments_resources`); add
  `payments_foundation`, `payments_wiring` or `payments_finalize` as you need them.
- `$package/settings.py`: the settings model; unknown keys and wrong types are rejected.
- `tests/`: run `pytest`; `payments_platform.core.testing` synthesizes your plugin alone
  (`synth`), stands in for other plugins' keys (`stub_provider`) and checks resources
  (`assert_resource`).

The hook contract is docs/PLUGIN_AUTHORS.md in payments-platform; every hook, context key, policy
rule and setting is listed in its docs/REFERENCE.md. Import only from `payments_platform.core`
(resources through `payments_platform.core.cdktf_adapter.aws`), never from another plugin.
""",
    "{package}/__init__.py": '''\
"""The $name plugin for payments-platform (hooks in plugin.py)."""
''',
    "{package}/settings.py": '''\
"""Settings the $name plugin accepts (``[environments.<env>.settings.$name]``)."""

from __future__ import annotations

from payments_platform.core import LogRetentionDays, PluginSettings


class $settings_class(PluginSettings):
    # How long the plugin's log events are kept (PCI DSS 10.5.1 asks 12 months for audit logs).
    log_retention_days: LogRetentionDays = 30
''',
    "{package}/plugin.py": '''\
"""The $name plugin: its declaration and the resources it contributes."""

from __future__ import annotations

from typing import Any

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws

from .settings import $settings_class


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="$name",
        description="The $name plugin",
        settings=$settings_class,
        requires_api="$requires_api",
    )


@hookimpl
def payments_resources(ctx: Any) -> None:
    settings: $settings_class = ctx.settings
    # Retained and encrypted with the platform CMK, as the policy rule PP-LOG-GROUP requires.
    aws.cloudwatch_log_group.CloudwatchLogGroup(
        ctx.scope,
        "log_group",
        name="/payments/" + ctx.naming.name("$slug"),
        retention_in_days=settings.log_retention_days,
        kms_key_id=ctx[keys.KMS_KEY].arn,
    )
''',
    "tests/test_plugin.py": '''\
"""The $name plugin, synthesized alone with payments-platform's test helpers."""

import pytest

from payments_platform.core import ConfigError
from payments_platform.core.testing import assert_resource, synth


def test_log_group_is_named_with_the_environment_suffix():
    stack = synth(["$name"])
    assert_resource(stack, "aws_cloudwatch_log_group", {"name": "/payments/$slug-test"})


def test_log_group_is_encrypted_with_the_platform_key():
    log_group = synth(["$name"]).one("aws_cloudwatch_log_group", name="/payments/$slug-test")
    assert log_group["kms_key_id"].startswith("$${aws_kms_key.")


def test_retention_follows_the_setting():
    stack = synth(["$name"], settings={"$name": {"log_retention_days": 90}})
    assert_resource(stack, "aws_cloudwatch_log_group", {"retention_in_days": 90})


def test_retention_cloudwatch_does_not_offer_is_refused():
    with pytest.raises(ConfigError, match="log_retention_days"):
        synth(["$name"], settings={"$name": {"log_retention_days": 42}})
''',
}
