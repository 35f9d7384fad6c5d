"""Creates the local resources from `infra/definitions.py` (the same definition the CDK stack uses)
and loads the seed data. Idempotent: safe on every `make run`.

Local only: each event bus gets a rule that copies every event put on it to a tap queue (its name in
the bus's `local_tap_env_var`, e.g. BOOKINGS_BUS_TAP_QUEUE), since moto keeps no readable record of
PutEvents; tests and the dev CLI read what the app put on the bus from there."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import boto3

from infra import definitions
from local.paths import LOCAL_DIR, REGION, ROOT


def _dynamodb(env: dict[str, str]) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _aws(service: Any, env: dict[str, str]) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def table_request(table: definitions.Table, name: str) -> dict[str, Any]:
    attributes = {table.partition_key}
    schema = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
    if table.sort_key:
        attributes.add(table.sort_key)
        schema.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
    indexes = []
    for index in table.indexes:
        key_schema = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        attributes.add(index.partition_key)
        if index.sort_key:
            key_schema.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
            attributes.add(index.sort_key)
        indexes.append({"IndexName": index.name, "KeySchema": key_schema, "Projection": {"ProjectionType": "ALL"}})
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "KeySchema": schema,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if table.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return request


def _add_missing_indexes(dynamodb: Any, table: definitions.Table, name: str) -> None:
    """A table kept in .local/dynamodb from an older definition gets the indexes added since (e.g. gsi5,
    issue 9), one update each (DynamoDB creates one index per UpdateTable), each waited for."""
    have = {i["IndexName"] for i in dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])}
    request = table_request(table, name)
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] not in have:
            dynamodb.update_table(
                TableName=name,
                AttributeDefinitions=request["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )
            _wait_for_index(dynamodb, name, index["IndexName"])


def _wait_for_index(dynamodb: Any, name: str, index_name: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        indexes = dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
        if any(i["IndexName"] == index_name and i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        time.sleep(0.2)
    raise RuntimeError(f"index {index_name} of {name} did not become active within {timeout_s:.0f}s")


def create_resources(env: dict[str, str]) -> None:
    dynamodb = _dynamodb(env)
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for table in definitions.TABLES:
        name = env[table.env_var]
        if name in existing:
            _add_missing_indexes(dynamodb, table, name)
        else:
            dynamodb.create_table(**table_request(table, name))
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
            if table.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
                )
    sqs = _aws("sqs", env)
    for queue in definitions.QUEUES:
        dlq = sqs.create_queue(QueueName=env[queue.env_var] + "-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(
            QueueName=env[queue.env_var],
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )
    for bus in definitions.BUSES:
        create_bus(env, bus, sqs)
    # moto's SES sends only from a verified identity, as SES does (the sender of notifications, R-11).
    from chalicelib.notifications.text import DEFAULT_FROM_EMAIL

    _aws("ses", env).verify_email_identity(EmailAddress=env.get("NOTIFICATION_FROM_EMAIL") or DEFAULT_FROM_EMAIL)
    if definitions.BUCKETS:
        s3 = _aws("s3", env)
        for bucket in definitions.BUCKETS:
            # Idempotent: a moto server still running from before already has it.
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=env[bucket.env_var], CreateBucketConfiguration={"LocationConstraint": REGION})


TAP_RULE = "local-tap"  # the local-only rule on each bus that copies every event to its tap queue


def create_bus(env: dict[str, str], bus: definitions.Bus, sqs: Any) -> None:
    """The bus (moto), and, where the bus names a tap, its tap queue and the rule that feeds it with
    every event (the whole EventBridge event as the message body, as an SQS target receives it)."""
    events = _aws("events", env)
    name = env[bus.env_var]
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):  # a moto still running
        events.create_event_bus(Name=name)
    if not bus.local_tap_env_var:
        return
    tap = sqs.create_queue(QueueName=env[bus.local_tap_env_var])["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Both calls replace what is there: idempotent.
    events.put_rule(Name=TAP_RULE, EventBusName=name, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule=TAP_RULE, EventBusName=name, Targets=[{"Id": "tap", "Arn": tap_arn}])


def ensure_staff_key() -> Path:
    """The local staff-token issuer's RSA key (production verifies the region IdP's keys instead)."""
    path = LOCAL_DIR / "staff-jwt-key.pem"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        path.chmod(0o600)
    return path


POPULATION_SOURCE = ROOT / "testdata" / "population.json"


def write_population(path: Path, data: dict[str, Any]) -> None:
    """The local register's file, replaced at once: a reader (the API, the pump) sees the old file or
    the new one, and the adapter reads it again at its next lookup (its inode and mtime changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def reset_population(env: dict[str, str]) -> Path:
    """The stack's population register (POPULATION_SEED_PATH): a fresh copy of testdata/population.json,
    so `python -m local population set` never changes the repository's file. A stack pointed at the
    repository's file itself is left alone."""
    path = Path(env.get("POPULATION_SEED_PATH") or POPULATION_SOURCE)
    if path.resolve() != POPULATION_SOURCE.resolve():
        write_population(path, json.loads(POPULATION_SOURCE.read_text(encoding="utf-8")))
    return path


def seed(env: dict[str, str]) -> dict[str, int]:
    """Clinics, case types, patient boards and staff from testdata/clinics.json, web booking from
    testdata/web-booking.json; the stack's population
    register (read by the local register adapter) as a fresh copy of testdata/population.json."""
    data = json.loads((ROOT / "testdata" / "clinics.json").read_text(encoding="utf-8"))
    # Through the capabilities' own writers, so keys and search index are as the app writes them.
    from chalicelib.clinics import service as clinics
    from chalicelib.staff import repository as staff

    clinics.seed(data)
    # R-45a: web booking at one PASiS and one PMO clinic (the simulator holds their schedules)
    clinics.seed_web_booking(json.loads((ROOT / "testdata" / "web-booking.json").read_text(encoding="utf-8")))
    for member in data["staff"]:
        staff.put(
            {"hsaId": member["hsaId"], "name": member["name"], "title": member["title"], "roles": member["roles"]}
        )
    ensure_staff_key()
    persons = json.loads(reset_population(env).read_text(encoding="utf-8"))["persons"]
    return {"clinics": len(data["clinics"]), "staff": len(data["staff"]), "persons": len(persons)}
