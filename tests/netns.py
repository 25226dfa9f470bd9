"""Separate hosts on this machine for tests that must cross a network: network namespaces, each
with its own loopback and one address on a bridge this machine also holds (10.201.x.1). Code
run in a host (`ip netns exec`) reaches only what listens on the bridge: nothing can lean on
localhost or on the tests' own sockets. Needs root (CI runs as root); tests skip otherwise."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Host:
    name: str  # the namespace: prefix a command with exec_prefix to run it there
    address: str

    @property
    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]


def available() -> bool:
    """Whether namespaces can be made here."""
    if os.geteuid() != 0:
        return False
    probe = f"pxs-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return made


@contextmanager
def hosts(count: int, subnet: int = 201) -> Iterator[tuple[str, list[Host]]]:
    """count hosts on a bridge; yields this machine's address on it and the hosts."""
    tag = f"{os.getpid() % 10000}"
    bridge = f"pxsbr{tag}"
    gateway = f"10.{subnet}.0.1"
    made: list[Host] = []
    _ip("link", "add", bridge, "type", "bridge")
    try:
        _ip("addr", "add", f"{gateway}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for number in range(count):
            made.append(_host(f"pxs{tag}h{number}", f"10.{subnet}.0.{10 + number}", bridge))
        yield gateway, made
    finally:
        for host in made:
            subprocess.run(["ip", "netns", "delete", host.name], capture_output=True)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True)


def _host(name: str, address: str, bridge: str) -> Host:
    veth = f"v{name[3:]}"[:15]
    _ip("netns", "add", name)
    _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
    _ip("link", "set", veth, "master", bridge, "up")
    _ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
    _ip("-n", name, "link", "set", "eth0", "up")
    _ip("-n", name, "link", "set", "lo", "up")
    return Host(name, address)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)
