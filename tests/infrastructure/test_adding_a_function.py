"""Adding a function is one decorated function plus one registry entry (infra/README.md, "Adding a
function"): synthesizing a Chalice app with two new event functions and a registry with their entries
wires each with its own role, log group and event source, and the local pump gets the same consumers.

The synth runs in a subprocess (as conftest.py's does): `chalice package` imports the app as `app`,
which must not be the project's app.py, nor leave this one in the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from infra.definitions import NOTIFICATIONS_QUEUE, resource_name
from infra.functions import FUNCTIONS, DailyAt, Function, QueueMessages, queue_consumers, registry, schedules

from .conftest import REPO_ROOT, SYNTH_TIMEOUT_S

pytestmark = pytest.mark.infrastructure

STAGE = "example"

# The capability's side: two decorated functions next to the existing route handler.
EXAMPLE_APP = """
from chalice import Chalice

app = Chalice(app_name="e-services")


@app.route("/")
def index():
    return {}


@app.lambda_function(name="send_reminders")
def send_reminders(event, context):
    return {"batchItemFailures": []}


@app.lambda_function(name="nightly_report")
def nightly_report(event, context):
    return None
"""

# The registry's side: one entry each (the rest as infra/functions.py has it).
REMINDERS = Function(
    "send_reminders",
    QueueMessages(NOTIFICATIONS_QUEUE, batch_size=5, window_s=2, max_concurrency=2),
    tables={"MainTable": ("dynamodb:GetItem",)},
)
NIGHTLY = Function("nightly_report", DailyAt(hour=6, minute=30), tables={"MainTable": ("dynamodb:Query",)})

SYNTH = """
import json, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
import aws_cdk as cdk
from infra.functions import FUNCTIONS, Function, QueueMessages, DailyAt, registry
from infra.definitions import NOTIFICATIONS_QUEUE
from infra.stack import EServicesStack

context = json.loads(Path({repo!r}, "infra", "cdk.json").read_text())["context"]
app = cdk.App(context=context, outdir={out!r})
functions = registry({entries})
EServicesStack(app, "Example", stage={stage!r}, source_dir=Path({source!r}), functions=functions,
               env=cdk.Environment(region="eu-north-1"))
app.synth()
"""


def synth(tmp_path: Path, entries: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "app"
    (source / ".chalice").mkdir(parents=True)
    (source / "app.py").write_text(textwrap.dedent(EXAMPLE_APP))
    (source / "requirements.txt").write_text("")
    (source / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "app_name": "e-services"}))
    script = tmp_path / "synth.py"
    script.write_text(
        SYNTH.format(repo=str(REPO_ROOT), out=str(tmp_path / "out"), entries=entries, stage=STAGE, source=str(source))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )


ENTRIES = (
    'FUNCTIONS["api_handler"], '
    'Function("send_reminders", QueueMessages(NOTIFICATIONS_QUEUE, batch_size=5, window_s=2, max_concurrency=2), '
    'tables={"MainTable": ("dynamodb:GetItem",)}), '
    'Function("nightly_report", DailyAt(hour=6, minute=30), tables={"MainTable": ("dynamodb:Query",)})'
)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("example")
    result = synth(tmp_path, ENTRIES)
    if result.returncode != 0:
        pytest.fail(f"synth failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    loaded: dict[str, Any] = json.loads((tmp_path / "out" / "Example.template.json").read_text())
    return loaded


def of_type(t: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == type_}


def by_name(t: dict[str, Any], name: str) -> dict[str, Any]:
    (fn,) = [
        f["Properties"]
        for f in of_type(t, "AWS::Serverless::Function").values()
        if f["Properties"].get("FunctionName") == resource_name(STAGE, name)
    ]
    return fn


def test_the_registry_entries_in_this_test_are_what_the_subprocess_declares() -> None:
    assert ENTRIES.count("Function(") == 2
    functions = registry(FUNCTIONS["api_handler"], REMINDERS, NIGHTLY)
    # The pump's view of the same registry: the batch size, window and cap the stack wires below.
    (consumer,) = queue_consumers(functions.values())
    assert (consumer.function, consumer.batch_size, consumer.window_s, consumer.max_concurrency) == (
        "send_reminders",
        5,
        2,
        2,
    )
    (schedule,) = schedules(functions.values())
    assert (schedule.function, schedule.hour, schedule.minute) == ("nightly_report", 6, 30)


def test_each_new_function_gets_its_own_role_log_group_and_error_alarm(example: dict[str, Any]) -> None:
    roles = {
        by_name(example, name)["Role"]["Fn::GetAtt"][0] for name in ("api_handler", "send_reminders", "nightly_report")
    }
    assert len(roles) == 3 and roles <= set(of_type(example, "AWS::IAM::Role"))
    groups = {g["Properties"]["LogGroupName"] for g in of_type(example, "AWS::Logs::LogGroup").values()}
    alarms = {
        a["Properties"]["Dimensions"][0]["Value"]
        for a in of_type(example, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
    }
    for name in ("send_reminders", "nightly_report"):
        assert f"/aws/lambda/{resource_name(STAGE, name)}" in groups
        assert resource_name(STAGE, name) in alarms


def test_the_queue_function_is_fed_with_the_registrys_batch_window_and_cap(example: dict[str, Any]) -> None:
    (mapping,) = [m["Properties"] for m in of_type(example, "AWS::Lambda::EventSourceMapping").values()]
    assert mapping["FunctionName"] == resource_name(STAGE, "send_reminders")
    assert mapping["BatchSize"] == 5
    assert mapping["MaximumBatchingWindowInSeconds"] == 2
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_daily_function_runs_on_a_stockholm_schedule_with_a_failure_queue(example: dict[str, Any]) -> None:
    (schedule,) = [s["Properties"] for s in of_type(example, "AWS::Scheduler::Schedule").values()]
    assert schedule["ScheduleExpression"] == "cron(30 6 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Stockholm"
    assert f":function:{resource_name(STAGE, 'nightly_report')}" in json.dumps(schedule["Target"]["Arn"])
    (config,) = [c["Properties"] for c in of_type(example, "AWS::Lambda::EventInvokeConfig").values()]
    assert config["FunctionName"] == resource_name(STAGE, "nightly_report")


def test_a_function_in_the_app_without_a_registry_entry_fails_synth(tmp_path: Path) -> None:
    result = synth(tmp_path, ENTRIES.rsplit(", Function(", 1)[0])  # nightly_report left out
    assert result.returncode != 0
    assert "only in app.py: ['NightlyReport']" in result.stderr
