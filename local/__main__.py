"""Dev CLI for the local stack: `.venv/bin/python -m local COMMAND` (see README).

staff-token --hsa-id HSA --clinic HSA --role case-receiver|case-handler|clinic-admin
machine-token --client ID --scope SCOPE [--scope SCOPE]   a machine JWT (e.g. bookings:write, contact-details:read)
invoke FUNCTION --event FILE       run a function with an event (e.g. a schedule with a chosen time)
functions                          the function registry (infra/functions.py): trigger, memory, timeout
clock set ISO-INSTANT | reset | show   the local stack's clock (API and functions), e.g. 2026-12-01T17:59:00+01:00
population set PERSONNUMMER --protected-identity true|false   change the stack's population register and
                                   send the population event (the pump feeds it to population_events)
population add-synthetic COUNT    add COUNT adults (Skatteverket's test personnummer) to the stack's
                                   register and print their personnummer, one a line
outbox                             SMS and e-mails sent, as JSON lines
seed                               (re)load the test data
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from local.paths import ROOT
from local.services import clock_file, ports_from_env, stack_environment


def _env() -> dict[str, str]:
    env = stack_environment(ports_from_env())
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    return {k: os.environ[k] for k in env}


def staff_token(args: argparse.Namespace) -> None:
    from local.clients import staff_token as token

    print(token(args.hsa_id, args.clinic, args.role, name=args.name, ttl_s=args.ttl))


def machine_token(args: argparse.Namespace) -> None:
    from local.clients import machine_token as token

    print(token(args.client, args.scope, ttl_s=args.ttl))


def invoke_function(args: argparse.Namespace) -> None:
    _env()
    with open(args.event, encoding="utf-8") as handle:
        event = json.load(handle)
    # The function's logs and metrics go to stderr, so stdout is exactly its result.
    with contextlib.redirect_stdout(sys.stderr):
        from infra.functions import FUNCTIONS
        from local.pump import app_functions, invoke

        functions = app_functions()
        if args.function not in functions:
            invocable = sorted(name for name in FUNCTIONS if name in functions)
            sys.exit(f"unknown function {args.function}; known: {', '.join(invocable)}")
        result = invoke(functions, args.function, event)
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))


def clock(args: argparse.Namespace) -> None:
    """Moves the running stack's clock: it keeps ticking from the instant set, until `clock reset`."""
    path = clock_file(ports_from_env())
    if args.action == "set":
        if not args.instant:
            sys.exit("clock set needs an ISO instant with its offset, e.g. 2026-12-01T17:59:00+01:00")
        try:
            instant = datetime.fromisoformat(args.instant)
        except ValueError:
            sys.exit(f"not an ISO instant: {args.instant}")
        if instant.tzinfo is None:
            sys.exit("give the instant with its offset (Z or +01:00): local time is ambiguous around DST")
        offset = (instant - datetime.now(UTC)).total_seconds()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({"offsetSeconds": offset, "setTo": instant.isoformat()}), encoding="utf-8")
        partial.replace(path)  # atomic: a reader sees the old clock or the new one
    elif args.action == "reset":
        path.unlink(missing_ok=True)
    shift = json.loads(path.read_text(encoding="utf-8"))["offsetSeconds"] if path.exists() else 0.0
    print(json.dumps({"now": (datetime.now(UTC) + timedelta(seconds=shift)).isoformat(), "offsetSeconds": shift}))


def population(args: argparse.Namespace) -> None:
    """Changes the running stack's population register (its copy under .local/, never
    testdata/population.json) and puts the matching event on the population events queue. The API and
    the functions see the change at their next lookup; the pump hands the event to population_events."""
    import fcntl
    from pathlib import Path

    from chalicelib.core.personal_number import parse
    from local import bootstrap

    env = _env()
    try:
        parse(args.personnummer)
    except ValueError:
        sys.exit("not a valid personnummer (12 digits)")
    path = Path(env["POPULATION_SEED_PATH"])
    if path.resolve() == bootstrap.POPULATION_SOURCE.resolve():
        sys.exit("the stack reads testdata/population.json itself: refusing to change the repository's file")
    protected = args.protected_identity == "true"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two changes at once: one after the other, neither lost
        if not path.exists():  # a stack started before the register had its own copy
            bootstrap.reset_population(env)
        data = json.loads(path.read_text(encoding="utf-8"))
        source = json.loads(bootstrap.POPULATION_SOURCE.read_text(encoding="utf-8"))["persons"]
        person = next((p for p in data["persons"] if p["personnummer"] == args.personnummer), None)
        if person is None:
            sys.exit("the person is not in the local population register")
        original: dict[str, Any] = next((p for p in source if p["personnummer"] == args.personnummer), {})
        if protected:
            kind = person.get("protectedIdentity") or original.get("protectedIdentity") or "sekretessmarkering"
            # The register hands out no address for a protected identity.
            person.update(protectedIdentity=kind, address=None)
        else:
            person.update(protectedIdentity=None, address=person.get("address") or original.get("address"))
        bootstrap.write_population(path, data)
    message_id = _send_population_event(env, "protected-identity-changed", args.personnummer)
    print(
        json.dumps(
            {
                "event": "protected-identity-changed",
                "protectedIdentity": person["protectedIdentity"],
                "messageId": message_id,
            }
        )
    )


# Skatteverket's list of test personnummer (never a real person's), copied into the project.
TEST_PERSONNUMMER_FILES = (ROOT / "testdata" / "skatteverket-testpersonnummer.txt",)
MAX_SYNTHETIC = 1000
SYNTHETIC_BORN = (1940, 2000)  # adults, never near an age limit
SYNTHETIC_NAMES = (
    "Astrid", "Bertil", "Cecilia", "David", "Ebba", "Fredrik", "Greta", "Henrik", "Ingrid", "Jonas",
    "Klara", "Lennart", "Maja", "Olof", "Petra", "Rune", "Stina", "Tore", "Ulla", "Viktor",
)  # fmt: skip


def synthetic_candidates(lines: list[str]) -> list[str]:
    """Every usable number of the list in one fixed pseudo-random order: valid, not a coordination
    number, born in SYNTHETIC_BORN. Fixed, so two calls of 5 add the same persons as one call of 10."""
    import random

    from chalicelib.core.personal_number import parse

    usable: list[str] = []
    for line in lines:
        value = line.strip()
        try:
            parsed = parse(value)
        except ValueError:
            continue
        if not parsed.coordination and SYNTHETIC_BORN[0] <= parsed.birth_date.year <= SYNTHETIC_BORN[1]:
            usable.append(value)
    usable = sorted(set(usable))
    random.Random("population add-synthetic").shuffle(usable)
    return usable


def synthetic_person(personnummer: str, index: int) -> dict[str, Any]:
    """A person as testdata/population.json has them: an adult with an address, no children."""
    return {
        "personnummer": personnummer,
        "givenName": SYNTHETIC_NAMES[index % len(SYNTHETIC_NAMES)],
        "surname": "Syntetisk",
        "address": {"street": f"Provgatan {index + 1}", "postalCode": "123 45", "city": "Teststad"},
        "guardians": [],
        "protectedIdentity": None,
        "deceased": False,
        "note": "synthetic adult (python -m local population add-synthetic)",
    }


def add_synthetic(args: argparse.Namespace) -> None:
    """Appends `count` adults to the running stack's register (its copy under .local/, as `population
    set` changes it) and prints their personnummer: more distinct citizens than testdata has (e.g. many
    concurrent bookers). The API sees them at its next lookup; no population event (nothing changed
    for anyone the app knows)."""
    import fcntl
    from pathlib import Path

    from local import bootstrap

    if not 1 <= args.count <= MAX_SYNTHETIC:
        sys.exit(f"COUNT must be 1-{MAX_SYNTHETIC}")
    source = next((f for f in TEST_PERSONNUMMER_FILES if f.exists()), None)
    if source is None:
        sys.exit(f"Skatteverket's test personnummer list is missing (looked for {TEST_PERSONNUMMER_FILES[0]})")
    env = _env()
    path = Path(env["POPULATION_SEED_PATH"])
    if path.resolve() == bootstrap.POPULATION_SOURCE.resolve():
        sys.exit("the stack reads testdata/population.json itself: refusing to change the repository's file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # with `population set` and other calls: one after the other
        if not path.exists():  # a stack started before the register had its own copy
            bootstrap.reset_population(env)
        data = json.loads(path.read_text(encoding="utf-8"))
        present = {p["personnummer"] for p in data["persons"]}
        fresh = [n for n in synthetic_candidates(source.read_text(encoding="utf-8").splitlines()) if n not in present]
        if len(fresh) < args.count:
            sys.exit(f"only {len(fresh)} more synthetic adults are possible")
        added = fresh[: args.count]
        data["persons"].extend(synthetic_person(n, len(data["persons"]) + i) for i, n in enumerate(added))
        bootstrap.write_population(path, data)
    print("\n".join(added))


def _send_population_event(env: dict[str, str], kind: str, personnummer: str) -> str:
    import boto3

    from local.paths import REGION

    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    queue = sqs.get_queue_url(QueueName=env["POPULATION_EVENTS_QUEUE"])["QueueUrl"]
    body = json.dumps({"kind": kind, "personnummer": personnummer})
    return str(sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"])


def list_functions(args: argparse.Namespace) -> None:
    from infra.functions import FUNCTIONS

    for function in FUNCTIONS.values():
        print(
            json.dumps(
                {
                    "name": function.name,
                    "trigger": type(function.trigger).__name__,
                    "memoryMb": function.memory_mb,
                    "timeoutS": function.timeout_s,
                }
            )
        )


def outbox(args: argparse.Namespace) -> None:
    env = _env()
    for message in sent_messages(env["AWS_ENDPOINT_URL"]):
        print(json.dumps(message, ensure_ascii=False))


def _sent_at(provider_message_id: str | None) -> str | None:
    """When the app handed the message over (the notification item), if it was one of ours."""
    if not provider_message_id:
        return None
    try:
        from chalicelib.notifications import repository

        item = repository.by_provider_message(provider_message_id)
    except Exception:  # no table (e.g. a moto server without the app's tables): unknown time
        return None
    return str(item["sentAt"]) if item and item.get("sentAt") else None


def sent_messages(moto_url: str) -> list[dict[str, Any]]:
    """SMS (SNS) and e-mail (SES) that moto accepted, oldest first.

    moto's internal `/moto-api/data.json` lists every model instance: sns/SMS holds each SMS handed to
    `Publish(PhoneNumber=...)`, ses/Message each e-mail, in the order moto accepted them. Neither has a
    timestamp; `sentAt` is the notification's, found by the provider message id (None for messages the
    app did not send), and orders the two channels together."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=5) as response:
        data = json.loads(response.read())
    found: list[dict[str, Any]] = []
    for sms in data.get("sns", {}).get("SMS", []):
        found.append(
            {
                "channel": "sms",
                "to": sms.get("phone_number"),
                "subject": None,
                "body": sms.get("message"),
                "sentAt": _sent_at(sms.get("message_id")),
            }
        )
    for name, instances in data.get("ses", {}).items():
        for message in instances:
            if name in {"Message", "RawMessage", "TemplateMessage"}:
                destinations = message.get("destinations")
                to = destinations.get("ToAddresses") if isinstance(destinations, dict) else destinations
                found.append(
                    {
                        "channel": "email",
                        "to": to[0] if isinstance(to, list) and len(to) == 1 else to,
                        "subject": message.get("subject"),
                        "body": message.get("body") or message.get("raw_data"),
                        "sentAt": _sent_at(message.get("id")),
                    }
                )
    return sorted(found, key=lambda m: m["sentAt"] or "")  # stable: moto's order within a channel


def seed(args: argparse.Namespace) -> None:
    env = _env()
    from local import bootstrap

    bootstrap.create_resources(env)
    print(json.dumps(bootstrap.seed(env)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local", description="Dev CLI for the local stack")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("staff-token", help="print a staff JWT from the local issuer")
    token.add_argument("--hsa-id", required=True)
    token.add_argument("--clinic", required=True, action="append", help="repeat for several clinics")
    token.add_argument("--role", required=True, choices=["case-receiver", "case-handler", "clinic-admin"])
    token.add_argument("--name")
    token.add_argument("--ttl", type=int, default=3600)
    token.set_defaults(run=staff_token)
    machine = commands.add_parser("machine-token", help="print a machine JWT from the local issuer")
    machine.add_argument("--client", required=True, help="the calling system's id, e.g. pasis-region-1")
    machine.add_argument("--scope", required=True, action="append", help="e.g. bookings:write (repeatable)")
    machine.add_argument("--ttl", type=int, default=3600)
    machine.set_defaults(run=machine_token)
    run = commands.add_parser("invoke", help="run a function with an event file")
    run.add_argument("function")
    run.add_argument("--event", required=True)
    run.set_defaults(run=invoke_function)
    commands.add_parser("functions", help="the function registry").set_defaults(run=list_functions)
    moved = commands.add_parser("clock", help="set, reset or show the local stack's clock")
    moved.add_argument("action", choices=("set", "reset", "show"))
    moved.add_argument("instant", nargs="?")
    moved.set_defaults(run=clock)
    register = commands.add_parser("population", help="change the local population register")
    changes = register.add_subparsers(dest="action", required=True)
    protect = changes.add_parser("set", help="lift or put back a person's protected identity")
    protect.add_argument("personnummer")
    protect.add_argument("--protected-identity", required=True, choices=("true", "false"))
    protect.set_defaults(run=population)
    synthetic = changes.add_parser("add-synthetic", help="add adults to the register and print their personnummer")
    synthetic.add_argument("count", type=int, help=f"how many (1-{MAX_SYNTHETIC})")
    synthetic.set_defaults(run=add_synthetic)
    commands.add_parser("outbox", help="SMS and e-mails sent").set_defaults(run=outbox)
    commands.add_parser("seed", help="reload test data").set_defaults(run=seed)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
