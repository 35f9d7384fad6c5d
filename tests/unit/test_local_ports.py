"""The local stack's ports: free, distinct, and outside the kernel's ephemeral range, so a service's own
bind(0) or outgoing connection can never take a port chosen for another service before it starts (a CI
run lost its BankID simulator port that way)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from local import services
from local.services import HOST, PORT_RANGE, free_port


def test_ports_are_distinct_free_and_below_the_ephemeral_range() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert all(PORT_RANGE[0] <= p < PORT_RANGE[1] < low for p in ports)


def test_a_port_in_use_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind((HOST, 0))
        held.listen()
        taken = held.getsockname()[1]
        offered = iter([taken, taken + 1 if taken + 1 < 65536 else taken - 1])
        monkeypatch.setattr(services.random, "randrange", lambda *_: next(offered))
        assert free_port() != taken
