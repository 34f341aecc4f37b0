"""`payments-platform plugins --settings NAME`: the schema, and each environment's validated values."""

from __future__ import annotations

import json

from payments_platform.core.host.config import load_config

from cli_runner import run_cli


def run(*args):
    result = run_cli("plugins", "--settings", *args)
    return result.returncode, result.stdout, result.stderr


def test_text_lists_each_setting_with_type_default_constraints_and_comment():
    code, out, _ = run("api", "--env", "dev")
    assert code == 0
    assert (
        "  throttle_rate: int, default 10000\n      constraints: > 0\n      requests per second, steady state\n" in out
    )
    assert '  auth: "api_key" | "iam", default "api_key"\n' in out


def test_text_shows_what_the_environment_sets():
    _, out, _ = run("api", "--env", "dev")
    assert out.endswith(
        "environment dev (enabled), set in environments.toml:\n"
        '  clients = ["dev-client"]\n  manage_account_cloudwatch_role = true\n  reserved_concurrency = 5\n'
        "  service_time = {transaction-processor = {p99_ms = 250.0, source = "
        '"BENCHMARKS.md Capacity: load_test.py REPORT Duration p99 247 and 170 ms in two runs 2026-12-06"}, '
        "status-checker = {p99_ms = 175.0, source = "
        '"BENCHMARKS.md Capacity: load_test.py REPORT Duration p99 135 and 171 ms in two runs 2026-12-06"}}\n'
        "  the rest at their defaults\n"
    )


def test_json_gives_defaults_as_values_and_every_environments_effective_settings():
    code, out, _ = run("network", "--json")
    report = json.loads(out)
    fields = {f["name"]: f for f in report["fields"]}
    assert code == 0 and report["model"] == "NetworkSettings"
    assert fields["availability_zones"] == {
        "name": "availability_zones",
        "type": "int",
        "default": 2,
        "required": False,
        "constraints": ["≥ 2", "≤ 4"],
        "description": "",
    }
    assert sorted(report["environments"]) == sorted(load_config().environments)
    prod = load_config().environment("prod").plugin_settings("network")
    assert report["environments"]["prod"]["values"]["zone_ids"] == list(prod["zone_ids"])
    assert report["environments"]["prod"]["values"]["flow_log_retention_days"] == 30  # the model's default


def test_unknown_plugin_is_one_line_with_a_suggestion():
    code, out, err = run("observabilty")
    assert (code, out) == (2, "")
    assert err == "payments-platform: error: no plugin 'observabilty' is installed (did you mean 'observability'?)\n"


def test_unknown_environment_is_one_line():
    code, _, err = run("api", "--env", "qa")
    assert code == 2 and err.startswith("payments-platform: error: unknown environment 'qa'")
