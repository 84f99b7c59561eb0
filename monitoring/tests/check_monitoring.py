#!/usr/bin/env python3
"""Checks the monitoring setup against the real thing:

1. promtool: the rules are valid and their unit tests pass; the scrape config is valid.
2. amtool: the Alertmanager config is valid.
3. Every metric named in the alert rules and the Grafana dashboard is exported by a
   running `replyx` server (no panel or alert on a metric that does not exist).
4. A real Prometheus scrapes a real server on loopback and answers queries on live
   metrics.

Prints one line per check and ends with "N passed, N failed".
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "monitoring"
BIN = Path(os.environ.get("REPLYX_BIN", ROOT / "target/debug/replyx"))
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(proc, pattern, seconds=30):
    """Reads the process's output until a line matches (an event, not a delay)."""
    deadline = time.monotonic() + seconds
    for line in proc.stdout:
        if re.search(pattern, line):
            return line
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"no line matching {pattern!r}")


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def start_server(tmp):
    proc = subprocess.Popen(
        [str(BIN), "serve"],
        env={**os.environ, "REPLYX_BIND": "127.0.0.1:0", "RUST_LOG": "info",
             "REPLYX_DATABASE_URL": f"sqlite://{tmp}/replyx.db", "REPLYX_CANARY_INTERVAL": "1s"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = wait_for_line(proc, r"listening on http://")
    addr = re.search(r"listening on http://(\S+)", line).group(1)
    return proc, addr


def metric_names_in(expr_texts):
    names = set()
    for text in expr_texts:
        for token in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
            if re.match(r"^(websocket_|replyx_|http_requests|process_)", token):
                names.add(re.sub(r"_(bucket|count|sum)$", "", token) if token.endswith(("_bucket", "_count", "_sum")) and "seconds" in token else token)
    return names


def main():
    prom = MON / "prometheus"
    ok, out = run(["promtool", "check", "rules", "alerts.yml"], cwd=prom)
    check("promtool check rules", ok, "" if ok else out)
    ok, out = run(["promtool", "test", "rules", "alerts.test.yml"], cwd=prom)
    check("promtool test rules (every alert fires and stays quiet)", ok, "" if ok else out)
    ok, out = run(["promtool", "check", "config", "prometheus.yml"], cwd=prom)
    check("promtool check config", ok, "" if ok else out)
    ok, out = run(["amtool", "check-config", "alertmanager.yml"], cwd=MON / "alertmanager")
    check("amtool check-config", ok, "" if ok else out)

    rules = (prom / "alerts.yml").read_text()
    exprs = re.findall(r"expr:\s*\|?\s*\n?((?:.+\n)+?)\s+for:", rules)
    dashboard = json.loads((MON / "grafana/replyx-realtime.json").read_text())
    panel_exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    wanted = metric_names_in(exprs + panel_exprs)

    tmp = tempfile.mkdtemp(prefix="replyx-mon-")
    server, addr = start_server(tmp)
    prometheus = None
    try:
        get(f"http://{addr}/health")  # http_requests_total exists once a request was served
        exposition = get(f"http://{addr}/metrics")
        exported = {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", exposition, re.M)}
        exported |= {re.sub(r"_(bucket|count|sum)$", "", n) for n in exported}
        missing = sorted(n for n in wanted if n not in exported)
        check(f"the {len(wanted)} metrics used by rules and dashboard are exported", not missing, ", ".join(missing))
        check("the dashboard has the required panels", len(dashboard["panels"]) >= 10)

        port = free_port()
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{prom / 'alerts.yml'}']\n"
            "scrape_configs:\n"
            f"  - job_name: replyx\n    static_configs: [{{targets: ['{addr}'], labels: {{colour: blue}}}}]\n")
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp}/tsdb",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for_line(prometheus, r"Server is ready to receive web requests")
        api = f"http://127.0.0.1:{port}/api/v1"

        def query(q):
            body = json.loads(get(f"{api}/query?query={urllib.request.quote(q)}"))
            return body["data"]["result"]

        # Prometheus scrapes on its own clock: ask until the first scrape is in (bounded).
        result = []
        for _ in range(100):
            result = query('up{job="replyx"}')
            if result and result[0]["value"][1] == "1":
                break
            time.sleep(0.2)
        check("a real Prometheus scrapes the server (up == 1)", bool(result) and result[0]["value"][1] == "1", str(result))
        kinds = query('websocket_connections_total{job="replyx"}')
        check("it answers a query on a live metric (connections by kind)",
              sorted(r["metric"]["type"] for r in kinds) == ["admin", "site", "widget"], str(kinds))
        canary = []
        for _ in range(100):
            canary = query('replyx_canary_round_trip_seconds_count{job="replyx"} > 0')
            if canary:
                break
            time.sleep(0.2)
        check("the canary's round trips are visible in Prometheus", bool(canary))
        groups = json.loads(get(f"{api}/rules"))["data"]["groups"]
        # Every rule of alerts.yml, counted from the file: a rule Prometheus failed to load is
        # missing here.
        want = len(re.findall(r"^\s*- alert: ", (ROOT / "monitoring/prometheus/alerts.yml").read_text(), re.M))
        loaded = sum(len(g["rules"]) for g in groups)
        check("Prometheus loaded every alert rule", loaded == want and want > 0, f"{loaded} of {want}")
    finally:
        for proc in (prometheus, server):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
