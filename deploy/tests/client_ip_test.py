#!/usr/bin/env python3
"""The per-IP limits behind the shipped nginx configuration. nginx appends the address
it received a request from to whatever X-Forwarded-For the client sent
($proxy_add_x_forwarded_for), so the left-most entries are the client's own words.
Clients here connect from their own loopback addresses (127.0.0.2, 127.0.0.3) and forge
a new X-Forwarded-For on every request; the server trusts nginx (127.0.0.1) and must
key its limits on the real address:

  - HTTP: the visitor request budget (REPLYX_VISITOR_REQUESTS_PER_IP_PER_MINUTE) runs
    out for the forging client (429) however many addresses it invents, while another
    client still gets through;
  - WebSockets: the connect budget (REPLYX_WS_CONNECTS_PER_IP_PER_MINUTE) likewise ends
    in close 4008.

Ends with "N passed, N failed".
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nginx_fixture

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("REPLYX_BIN", ROOT / "target/debug/replyx"))
REQUESTS, CONNECTS = 5, 3
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)


def request(port, source, method, path, body=None, forged=None):
    """One HTTP/1.1 request from `source` through nginx; returns (status, raw response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: chat.test\r\nConnection: close\r\n"
        if forged:
            head += f"X-Forwarded-For: {forged}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        s.sendall(head.encode() + b"\r\n" + data)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    return int(raw.split(b" ", 2)[1]), raw


def ws_close_code(port, source, path, forged):
    """Opens a WebSocket from `source` through nginx and returns the code of the close
    frame the server sends first, or None when it sends another frame first."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   f"X-Forwarded-For: {forged}\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, frame = buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        while len(frame) < 4:
            frame += s.recv(4096)
        if frame[0] & 0x0F != 0x8:  # not a close frame: the socket was accepted
            return None
        return int.from_bytes(frame[2:4], "big")


def main():
    tmp = Path(tempfile.mkdtemp(prefix="replyx-client-ip-"))
    public, backend = nginx_fixture.free_port(), nginx_fixture.free_port()
    nginx, upstream = nginx_fixture.configure(tmp / "nginx", public)
    env = {**os.environ, "REPLYX_DATABASE_URL": f"sqlite://{tmp}/replyx.db", "REPLYX_SECRET": "client-ip-test-secret-0123456789",
           "REPLYX_BIND": f"127.0.0.1:{backend}", "REPLYX_TRUSTED_PROXIES": "127.0.0.1",
           "REPLYX_VISITOR_REQUESTS_PER_IP_PER_MINUTE": str(REQUESTS),
           "REPLYX_WS_CONNECTS_PER_IP_PER_MINUTE": str(CONNECTS), "RUST_LOG": "info"}
    added = subprocess.run([BIN, "assistant", "add", "--name", "Client IP"], env=env, text=True, capture_output=True, check=True)
    assistant = re.search(r"assistant_id (\S+)", added.stdout).group(1)
    server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "listening on http://" in line:
                break
        else:
            raise RuntimeError("the server did not start")
        nginx_fixture.start(nginx, upstream, backend)

        body = {"assistant_id": assistant}
        statuses = [request(public, "127.0.0.2", "POST", "/api/widget/dialogs", body, forged=f"198.51.100.{i}")[0]
                    for i in range(REQUESTS + 3)]
        check(f"a client forging a new X-Forwarded-For each time still gets only {REQUESTS} requests",
              statuses[:REQUESTS] == [201] * REQUESTS and set(statuses[REQUESTS:]) == {429}, str(statuses))
        other, _ = request(public, "127.0.0.3", "POST", "/api/widget/dialogs", body, forged="198.51.100.1")
        check("another client, even naming a spent address, has its own budget", other == 201, str(other))

        # A dialog for the sockets, loaded from an address with budget left.
        _, raw = request(public, "127.0.0.4", "POST", "/api/widget/dialogs", body)
        load = json.loads(raw.split(b"\r\n\r\n", 1)[1])
        path = (f"/ws/widget/dialogs/{load['dialog']['id']}?assistant_id={assistant}"
                f"&guest_token={load['guest_token']}&since={load['dialog']['last_seq']}")
        codes = [ws_close_code(public, "127.0.0.5", path, forged=f"203.0.113.{i}") for i in range(CONNECTS + 2)]
        check(f"a socket client forging X-Forwarded-For still gets only {CONNECTS} connects, then 4008",
              codes[:CONNECTS] == [None] * CONNECTS and set(codes[CONNECTS:]) == {4008}, str(codes))
    finally:
        nginx_fixture.stop(nginx)  # waits for nginx to exit: every line is then written
        log = tmp / "nginx/logs/access.log"
        logged = log.read_text() if log.exists() else ""
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    # nginx writes a line per request as it ends; it has stopped, so every line is in.
    check("the access log has a line for each socket", logged.count("/ws/widget/dialogs/") >= CONNECTS + 2,
          f"{logged.count('/ws/widget/dialogs/')} socket lines")
    check("the access log holds no credential or query string",
          load["guest_token"] not in logged and "guest_token" not in logged and "?" not in logged,
          next((line for line in logged.splitlines() if "?" in line), ""))

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
