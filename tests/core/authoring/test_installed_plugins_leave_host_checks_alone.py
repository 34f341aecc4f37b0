"""Installing a third-party plugin changes none of the host's own checks: the reference and its
`docs --check`, the synth snapshots, the reference tests' plugin list. The plugins below are
installed as pip installs one (a .dist-info with an entry point on the path); one of them would
fail the moment anything imported it."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from plugin_distributions import install_distribution

from payments_platform.core.authoring.reference import (
    render_reference,
    repository_distributions,
    repository_plugins,
)
from payments_platform.core.host.config import load_config
from payments_platform.core.host.plugin_manager import discover_plugins
from payments_platform.core.host.synth import synthesize

from cli_runner import run_cli

REPO = Path(__file__).resolve().parents[3]
LEDGER = '''
from payments_platform.core import PluginDeclaration, PluginSettings, hookimpl


class LedgerSettings(PluginSettings):
    """How the ledger keeps entries."""

    retention_days: int = 30


@hookimpl
def payments_declare():
    return PluginDeclaration(name="ledger", description="a third-party ledger", settings=LedgerSettings)
'''


def install(site: Path, distribution: str, plugin: str, module: str, source: str) -> None:
    (site / f"{module}.py").write_text(source)
    install_distribution(site, distribution, "0.2.0", {plugin: module})


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    install(site, "payments-ledger", "ledger", "payments_ledger_fixture", LEDGER)
    install(site, "payments-broken", "broken", "payments_broken_fixture", "raise ImportError('broken on import')\n")
    return site


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The extra plugins installed for this process too."""
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert {"ledger", "broken"} <= set(discover_plugins())  # else this test proves nothing
    return site


def test_docs_check_passes_with_third_party_plugins_installed(site):
    env = {"PYTHONPATH": str(site)}
    listing = run_cli("plugins", "--json", env=env, process=True)
    assert "ledger" in {row["name"] for row in json.loads(listing.stdout)["plugins"]}, listing.stderr
    result = run_cli("docs", "--check", "--out", str(REPO / "docs" / "REFERENCE.md"), env=env, process=True)
    assert (result.returncode, result.stdout.strip()) == (0, f"{REPO / 'docs' / 'REFERENCE.md'} is up to date"), (
        result.stderr
    )


def test_reference_is_the_committed_one_and_documents_only_this_repositorys_plugins(installed):
    text = render_reference()
    assert text == (REPO / "docs" / "REFERENCE.md").read_text(encoding="utf-8")
    assert "\n### ledger\n" not in text and "\n### waf\n" in text


def test_the_reference_tests_plugin_list_is_this_repositorys(installed):
    plugins = repository_plugins(discover_plugins())
    assert {"ledger", "broken"}.isdisjoint(plugins) and {"api", "waf"} <= set(plugins)
    assert repository_distributions() == {"payments-platform", "payments-waf"}


def test_synth_snapshots_hold_with_third_party_plugins_installed(installed, tmp_path):
    config = load_config(REPO / "environments.toml")
    result = synthesize(config.select(["dev", "prod"]), tmp_path / "out")
    for stack in ("payments-dev", "payments-prod"):
        current = json.dumps(result.configs[stack], indent=1, sort_keys=True) + "\n"
        assert current == (REPO / "tests" / "snapshots" / f"{stack}.json").read_text(), stack
    assert "payments_broken_fixture" not in sys.modules
