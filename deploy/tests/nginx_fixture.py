"""The shipped nginx configuration (deploy/nginx/), rewritten only where a test must:
its paths into a scratch directory and its listener onto a loopback port. Everything
that decides how requests reach the server — headers, X-Forwarded-For, timeouts — is
the file production uses."""

import os
import select
import signal
import socket
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure(nginx_dir, public_port, site="replyx.conf", upstream_include="/etc/nginx/replyx/active-upstream.conf"):
    """Writes nginx.conf and the site (`replyx.conf`, blue-green, or `cluster.conf`)
    into `nginx_dir`; returns the nginx command line (append `-s reload`, `-t` …) and
    the path of the upstream file the site includes."""
    nginx_dir = Path(nginx_dir)
    (nginx_dir / "logs").mkdir(parents=True, exist_ok=True)
    upstream = nginx_dir / "upstream.conf"
    text = (DEPLOY / "nginx" / site).read_text()
    assert upstream_include in text, f"{site} includes {upstream_include}"
    site = text.replace(upstream_include, str(upstream)).replace("listen 80;", f"listen 127.0.0.1:{public_port};")
    (nginx_dir / "replyx.conf").write_text(site)
    main_conf = (DEPLOY / "nginx/nginx.conf").read_text()
    main_conf = (main_conf.replace("/run/nginx.pid", str(nginx_dir / "nginx.pid"))
                 .replace("/var/log/nginx/error.log", str(nginx_dir / "logs/error.log"))
                 .replace("/var/log/nginx/access.log", str(nginx_dir / "logs/access.log"))
                 .replace("worker_processes auto;", "worker_processes 2;")
                 .replace("worker_connections 16384;", "worker_connections 4096;")
                 .replace("/etc/nginx/replyx/replyx.conf", str(nginx_dir / "replyx.conf")))
    (nginx_dir / "nginx.conf").write_text(main_conf)
    return ["nginx", "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf")], upstream


def start(nginx, upstream, backend_port):
    """Points the upstream at `backend_port` and starts nginx."""
    upstream.write_text(f"upstream replyx_active {{ server 127.0.0.1:{backend_port}; }}\n")
    subprocess.run(nginx, check=True)


def stop(nginx, timeout=15.0):
    """Asks nginx to quit gracefully and waits until its master process has gone, so
    that every access-log line (written as each request ends) is on disk when this
    returns. After `timeout` seconds it is terminated instead (a fast shutdown)."""
    pid_file = Path(nginx[nginx.index("-c") + 1]).parent / "nginx.pid"
    try:
        pidfd = os.pidfd_open(int(pid_file.read_text().strip()))
    except (OSError, ValueError):
        return  # never started, or already gone
    try:
        # nginx daemonizes, so it is not our child: a pidfd is how to await its exit.
        subprocess.run(nginx + ["-s", "quit"], capture_output=True)
        if not select.select([pidfd], [], [], timeout)[0]:
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
