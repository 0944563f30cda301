"""The listening socket of `accord serve` and `accord up`, bound before anything says "listening".

Binding first means a port already in use is a clear message and its own exit code, instead of a
"listening" line followed by uvicorn's error.
"""

from __future__ import annotations

import errno
import socket

# Beside the client's codes (cli/client.py): the server could not take its address.
EXIT_CANNOT_LISTEN = 8


class CannotListen(Exception):
    exit_code = EXIT_CANNOT_LISTEN


def bind(address: str, port: int) -> socket.socket:
    """A listening TCP socket on address:port, or CannotListen with the reason."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "it is already in use (another Accord?); choose another with --port or ACCORD_PORT"
        else:
            reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {address}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock
