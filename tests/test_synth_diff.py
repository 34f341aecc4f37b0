"""tools/synth_diff.py's comparison: a moved resource compares at its new address, a changed
depends_on is an ordering, anything else is a difference."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("synth_diff", REPO / "tools" / "synth_diff.py")
assert _spec and _spec.loader
synth_diff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synth_diff)

OLD = "api_alarm_x_1111"
NEW = "observability_alarm_x_2222"
ALARM = {"alarm_name": "x-dev", "threshold": 300}
BASE = {
    "//": {"metadata": {"stackName": "payments-dev"}},
    "resource": {
        "aws_cloudwatch_metric_alarm": {OLD: {"//": {"metadata": {"path": "payments-dev/api/alarm_x"}}, **ALARM}},
        "aws_sns_topic": {"t": {"name": "t"}},
    },
}


def moved_head(**alarm_changes):
    head = copy.deepcopy(BASE)
    alarms = head["resource"]["aws_cloudwatch_metric_alarm"]
    body = alarms.pop(OLD)
    body.update({"//": {"metadata": {"path": "payments-dev/observability/alarm_x"}}, **alarm_changes})
    alarms[NEW] = body
    head["moved"] = [{"from": f"aws_cloudwatch_metric_alarm.{OLD}", "to": f"aws_cloudwatch_metric_alarm.{NEW}"}]
    head["//"]["metadata"]["moved"] = {"aws_cloudwatch_metric_alarm": [NEW]}
    return head


def test_a_resource_moved_unchanged_is_no_difference():
    assert synth_diff.explain(BASE, moved_head()) == ([], [])


def test_a_moved_resource_whose_configuration_changed_is_reported():
    problems, _ = synth_diff.explain(BASE, moved_head(threshold=600))
    assert problems[0].endswith("its configuration changed")


def test_a_new_depends_on_is_listed_as_ordering_not_as_a_difference():
    head = copy.deepcopy(BASE)
    head["resource"]["aws_sns_topic"]["t"]["depends_on"] = ["aws_kms_key.k"]
    assert synth_diff.explain(BASE, head) == ([], ["aws_sns_topic.t depends_on [] -> ['aws_kms_key.k']"])


def test_any_other_change_is_reported():
    head = copy.deepcopy(BASE)
    head["resource"]["aws_sns_topic"]["t"]["name"] = "u"
    problems, _ = synth_diff.explain(BASE, head)
    assert any('"name": "u"' in line for line in problems)
