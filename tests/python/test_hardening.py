"""Issue 13's network findings against the release binary: slow and silent clients are dropped within
the client timeout (the TCP connect that never speaks, a TLS handshake stopped half-way, a TLS session
that goes silent, headers sent a line every second), a normal client is answered meanwhile, the
connection limit makes further clients wait rather than fail, and a short admin key is refused at
start-up. Each runs its own emulator with `--client-timeout 2` so the test takes seconds."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import _binary

def get(url: str, ca: str, timeout: float) -> requests.Response:
    s = requests.Session()
    s.trust_env = False  # straight to this emulator, not through the session emulator's proxy
    return s.get(url, verify=ca, timeout=timeout)


FIRST = re.compile(r"^lighthouse-emulator listening on https://localhost:(\d+)$")


def start(*extra: str):
    state = tempfile.mkdtemp(prefix="lighthouse-emulator-hardening-")
    proc = subprocess.Popen([str(_binary()), "serve", "--port", "0", "--in-memory", "--state-dir", state,
                             "--userrealm-port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    m = FIRST.match(line)
    assert m, f"unexpected first line {line!r}: {proc.stderr.read() if proc.poll() is not None else ''}"
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, int(m.group(1)), os.path.join(state, "ca.pem")


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (EOF or reset)."""
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_short_or_empty_admin_keys_are_refused_at_start_up():
    for key in ["", "short-key-15chr"]:
        r = subprocess.run([str(_binary()), "serve", "--port", "0", "--in-memory", "--state-dir",
                            tempfile.mkdtemp(), "--userrealm-port", "0", "--admin-key", key],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, r.stdout
        assert "--admin-key must be at least 16 characters" in r.stderr, r.stderr


def test_slow_and_silent_clients_are_dropped_and_others_served():
    proc, port, ca = start("--client-timeout", "2")
    try:
        ctx = ssl.create_default_context(cafile=ca)
        silent_tcp = socket.create_connection(("localhost", port))
        half_handshake = socket.create_connection(("localhost", port))
        half_handshake.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        silent_tls = ctx.wrap_socket(socket.create_connection(("localhost", port)), server_hostname="localhost")
        slow_headers = ctx.wrap_socket(socket.create_connection(("localhost", port)), server_hostname="localhost")
        slow_headers.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: localhost\r\n")

        def drip():  # one header line a second, for longer than the timeout allows
            try:
                for i in range(8):
                    time.sleep(1)
                    slow_headers.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except OSError:
                pass

        threading.Thread(target=drip, daemon=True).start()
        # a normal client is answered at once meanwhile
        t0 = time.monotonic()
        r = get(f"https://localhost:{port}/_emulator/health", ca, 10)
        assert r.status_code == 200 and time.monotonic() - t0 < 2
        # first byte and handshake: at most the client timeout (2 s); headers: 2 s; idle TLS: 4 x 2 s
        assert closed_within(silent_tcp, 5), "a TCP connection that never speaks is dropped"
        assert closed_within(half_handshake, 5), "a handshake stopped half-way is dropped"
        assert closed_within(slow_headers, 6), "headers dripped a line a second are cut off"
        assert closed_within(silent_tls, 12), "a TLS session with no request is dropped when idle"
        assert proc.poll() is None
    finally:
        proc.kill()


def test_the_connection_limit_queues_rather_than_refuses():
    proc, port, ca = start("--max-connections", "4", "--client-timeout", "2")
    try:
        hogs = [socket.create_connection(("localhost", port)) for _ in range(4)]
        # all four slots are held by silent clients: a fifth waits in the backlog, and is served once
        # the silent ones are dropped (at the 2 s handshake deadline)
        t0 = time.monotonic()
        r = get(f"https://localhost:{port}/_emulator/health", ca, 20)
        waited = time.monotonic() - t0
        assert r.status_code == 200
        assert waited >= 1.0, f"the fifth client was served at once ({waited:.2f} s): no limit"
        for h in hogs:
            h.close()
    finally:
        proc.kill()
