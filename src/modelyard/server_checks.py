"""Checks `modelyard server` makes before it says "serving on".

A newcomer who starts a second server on the same port should read one line
saying so, not a uvicorn traceback printed after a success message.
"""

from __future__ import annotations

import errno
import socket

from modelyard.errors import InvalidParameterValue


def check_port_free(host: str, port: int) -> None:
    """Bind (and release) host:port the way uvicorn will, or say why not.

    SO_REUSEADDR matches uvicorn's socket, so a port held only by connections
    in TIME_WAIT passes, while a port another process listens on fails.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidParameterValue(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InvalidParameterValue(
                    f"port {port} on {host} is already in use (is another server running?); "
                    "choose another with --port"
                ) from None
            if exc.errno == errno.EACCES:
                raise InvalidParameterValue(
                    f"not allowed to listen on port {port} (ports below 1024 need root); "
                    "choose another with --port"
                ) from None
            raise InvalidParameterValue(f"cannot listen on {host}:{port}: {exc.strerror}") from None
