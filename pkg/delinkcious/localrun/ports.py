"""Port choice: the service's usual port when it is free, any free one otherwise."""

from __future__ import annotations

import random
import socket
from collections.abc import Collection

LOCAL_HOST = "127.0.0.1"


def is_free(port: int, host: str = LOCAL_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option uvicorn sets: a port whose old connections linger in
        # TIME_WAIT is usable, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# Below Linux's ephemeral range (32768-60999): the kernel gives those to outgoing
# connections, so a port picked there could be a client socket's (another service
# connecting to NATS, say) by the time the service it was picked for listens on it.
_PICKED_PORTS = (20000, 32768)


def free_port(host: str = LOCAL_HOST) -> int:
    """A port nothing listens on, outside the range outgoing connections use."""
    for _ in range(200):
        port = random.randrange(*_PICKED_PORTS)
        if is_free(port, host):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # that range is full
        sock.bind((host, 0))
        picked: int = sock.getsockname()[1]
        return picked


def free_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """`count` free ports, each its own and none in `avoid`: nothing holds a port
    free_port() found, so two draws may give the same one."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port not in avoid:
            ports.append(port)
    return ports


def pick_port(default: int, taken: set[int], host: str = LOCAL_HOST) -> int:
    """`default` if free and not already given to another service, else a free port."""
    if default not in taken and is_free(default, host):
        return default
    while True:
        port = free_port(host)
        if port not in taken:
            return port
