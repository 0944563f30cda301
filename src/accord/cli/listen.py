"""The listening socket of `accord serve` and `accord up`, bound before anything says "listening".

Binding first means a port already in use is a clear message and its own exit code, instead of a
"listening" line followed by uvicorn's error.
"""

from __future__ import annotations

import errno
import socket

import typer

# Beside the client's codes (cli/client.py): the server could not take its address.
EXIT_CANNOT_LISTEN = 8


def bind_or_exit(address: str, port: int) -> socket.socket:
    """A listening TCP socket on address:port, or exit 8 with the reason."""
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
        typer.secho(f"error: cannot listen on {address}:{port}: {reason}", fg="red", err=True)
        raise typer.Exit(EXIT_CANNOT_LISTEN) from None
    sock.set_inheritable(True)
    return sock
