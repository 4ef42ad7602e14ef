"""Port choice: the service's usual port when it is free, any free one otherwise."""

from __future__ import annotations

import socket

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


def free_port(host: str = LOCAL_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def pick_port(default: int, taken: set[int], host: str = LOCAL_HOST) -> int:
    """`default` if free and not already given to another service, else a free port."""
    if default not in taken and is_free(default, host):
        return default
    while True:
        port = free_port(host)
        if port not in taken:
            return port
