#!/usr/bin/env python3
"""The cluster proof: three `replyx` nodes on loopback sharing a fresh PostgreSQL
database and a broker this test starts itself (NATS, or Redis with
CLUSTER_TEST_BUS=redis), behind Debian's nginx with the shipped cluster.conf. A few
hundred live clients of all three kinds (replyx-load: an operator socket per dialog and
a visitor socket, half of them the iframe widget's, half the site widget's with its page
Origin; both sides sending over HTTP) spread over the nodes by nginx, so a dialog's
sockets and its writes sit on different nodes. Before the faults, after each, and
during the partition, replyx-crossnode plays one conversation whose parts sit on
different nodes by design (visitor socket on A, operator socket on B, inbox feed and
writes on C, every rotation): typing, messages, handoff, read marks and the live inbox
must cross nodes, and both streams must match the stored log. Mid-traffic:

  1. kill -9 one node          -> its clients reconnect through nginx and resume
  2. the broker killed and restarted -> every node reports not ready while it is down,
                                  resubscribes and resyncs after (replyx_bus_resyncs_total)
  3. one node (in a network namespace of its own) cut off from the database and the
     bus by a network partition for a few seconds: not ready while cut, its clients
     keep their sockets, and have everything once after healing
  4. a rolling deploy, one node at a time, with the drain

then the load's sending phase is ended and every client's stream is audited against
its dialog's whole log by (dialog, seq): nothing lost, repeated, reordered or
misrouted; connection success reported. Ends with "N passed, N failed".
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import nginx_fixture
import partition

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(os.environ.get("REPLYX_BIN", ROOT / "target/debug/replyx"))
LOAD = Path(os.environ.get("REPLYX_LOAD_BIN", ROOT / "target/debug/replyx-load"))
CROSSNODE = Path(os.environ.get("REPLYX_CROSSNODE_BIN", ROOT / "target/debug/replyx-crossnode"))
SITE_ORIGIN = "https://shop.example"
OPERATOR_PASSWORD = "correct horse battery"
PAIRS = int(os.environ.get("CLUSTER_TEST_PAIRS", "120"))
BUS = os.environ.get("CLUSTER_TEST_BUS", "nats")
PG_ADMIN = os.environ.get("REPLYX_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DRAIN_GRACE_S = 8
SECRET = "cluster-test-secret-0123456789abcdef"
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def http_status(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def wait_for(what, predicate, seconds, every=0.25):
    """Polls `predicate` until it holds (a process outside has no event to await);
    returns whether it did within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    print(f"    gave up waiting for {what} after {seconds}s", flush=True)
    return False


class Broker:
    def __init__(self, kind, tmp):
        self.kind, self.port, self.proc = kind, nginx_fixture.free_port(), None
        self.log = open(tmp / f"{kind}.log", "w")

    @property
    def url(self):
        return f"{self.kind}://127.0.0.1:{self.port}"

    def start(self):
        if self.kind == "nats":
            cmd = ["nats-server", "-a", "127.0.0.1", "-p", str(self.port)]
        else:
            cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        import socket
        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        assert wait_for(f"{self.kind} to listen", listening, 15), f"{self.kind} did not start"

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Node:
    def __init__(self, name, tmp, env):
        self.name, self.tmp, self.env = name, tmp, env
        self.port = nginx_fixture.free_port()
        self.host = "127.0.0.1"
        self.proc = None
        self.netns = None
        self.starts = 0

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self, extra_env=None):
        self.starts += 1
        self.logfile = self.tmp / f"{self.name}.{self.starts}.log"
        env = {**self.env, "REPLYX_BIND": f"{self.host}:{self.port}", **(extra_env or {})}
        cmd = [str(BIN), "serve"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.logfile, "w"), stderr=subprocess.STDOUT)

    def ready(self):
        return http_status(f"{self.url}/health/ready")[0] == 200

    def not_ready(self):
        code = http_status(f"{self.url}/health/ready")[0]
        return code == 503

    def sockets(self):
        code, body = http_status(f"{self.url}/health/websocket")
        if code != 200:
            return 0, 0
        held = json.loads(body)
        visitors = held["active_widget_connections"] + held["active_site_connections"]
        return visitors, held["active_admin_connections"]

    def metric(self, name):
        """The value of an unlabelled counter, or None when the series is absent (an
        absent metric is not 0)."""
        code, body = http_status(f"{self.url}/metrics")
        if code != 200:
            return None
        m = re.search(rf"^{re.escape(name)} (\S+)$", body, re.M)
        return float(m.group(1)) if m else None

    def log_text(self):
        return self.logfile.read_text(errors="replace")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, within):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def psql(sql):
    return subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", PG_ADMIN, "-c", sql], capture_output=True, text=True)


def pg_url(name, host="127.0.0.1"):
    base = PG_ADMIN.split("?")[0]
    scheme, rest = base.split("://", 1)
    authority = rest.split("/", 1)[0]
    authority = authority.replace("127.0.0.1", host).replace("localhost", host)
    return f"{scheme}://{authority}/{name}"


def write_upstream(path, nodes):
    servers = "\n".join(f"    server {n.host}:{n.port} max_fails=1 fail_timeout=2s;" for n in nodes)
    path.write_text(f"upstream replyx_cluster {{\n    least_conn;\n{servers}\n    keepalive 64;\n}}\n")


def finish(load):
    load.send_signal(signal.SIGINT)
    out, err = load.communicate(timeout=300)
    sys.stderr.write(err[-3000:])
    return load.returncode, json.loads(out)


def crossnode(label, nodes, env):
    """One cross-node conversation per rotation of `nodes`' roles (see replyx-crossnode)."""
    run = subprocess.run([CROSSNODE, "--nodes", ",".join(n.url for n in nodes), "--operator-email", "ops@example.test"],
                         env={**env, "REPLYX_LOAD_OPERATOR_PASSWORD": OPERATOR_PASSWORD},
                         capture_output=True, text=True, timeout=180)
    passed = [l for l in run.stdout.splitlines() if l.startswith("ok")]
    failed = [l for l in run.stdout.splitlines() if l.startswith("FAIL")]
    summary = (run.stdout.strip().splitlines() or ["(no output)"])[-1]
    return check(f"{label}: typing, messages, handoff, read marks and the inbox cross nodes",
                 run.returncode == 0 and passed and not failed,
                 summary if run.returncode == 0 else "\n".join(failed) + "\n" + run.stderr[-1500:])


def held_by_all(nodes):
    widget = admin = 0
    for n in nodes:
        w, a = n.sockets()
        widget, admin = widget + w, admin + a
    return widget, admin


def main():
    for tool in ("nginx", "psql", f"{BUS}-server"):
        if shutil.which(tool) is None:
            print(f"FAIL {tool} is missing: scripts/test-cluster installs it (Debian)", flush=True)
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="replyx-cluster-"))
    db = f"replyx_c_{uuid.uuid4().hex}"
    made = psql(f"CREATE DATABASE {db}")
    if made.returncode != 0:
        print(f"FAIL PostgreSQL at {PG_ADMIN} cannot create a database ({made.stderr.strip()}); start it "
              "(apt-get install postgresql && service postgresql start) or set REPLYX_TEST_PG_URL", flush=True)
        return 1
    broker = Broker(BUS, tmp)
    cut = partition.Partition.make(tmp)
    check("a network namespace for the partition step (root, iproute2)", cut is not None)
    broker.start()
    env = {**os.environ, "REPLYX_DATABASE_URL": pg_url(db), "REPLYX_BUS_URL": broker.url, "REPLYX_SECRET": SECRET,
           "REPLYX_DRAIN_GRACE": f"{DRAIN_GRACE_S}s", "REPLYX_TRUSTED_PROXIES": "127.0.0.1",
           "REPLYX_WS_CONNECTS_PER_IP_PER_MINUTE": "1000000", "REPLYX_VISITOR_REQUESTS_PER_IP_PER_MINUTE": "1000000",
           "REPLYX_CANARY_INTERVAL": "2s", "REPLYX_ASSISTANT_REPLY_DELAY": "0ms", "RUST_LOG": "info"}
    nodes = [Node(f"node{i}", tmp, env) for i in (1, 2, 3)]
    if cut:
        # node3 lives in its own namespace: clients reach it on one link, the database
        # and the broker on another, which the partition takes down.
        nodes[2].netns, nodes[2].host = cut.netns, cut.client_addr
        nodes[2].env = {**env, "REPLYX_DATABASE_URL": pg_url(db, cut.backend_host),
                        "REPLYX_BUS_URL": f"{BUS}://{cut.backend_host}:{broker.port}",
                        "REPLYX_TRUSTED_PROXIES": cut.client_peer}
        cut.forward(cut.backend_host, 5432, "127.0.0.1", 5432)
        cut.forward(cut.backend_host, broker.port, "127.0.0.1", broker.port)
    public = nginx_fixture.free_port()
    nginx_dir = tmp / "nginx"
    nginx, upstream = nginx_fixture.configure(nginx_dir, public, site="cluster.conf",
                                              upstream_include="/etc/nginx/replyx/cluster-upstream.conf")
    load = None
    try:
        for n in nodes:
            n.start()
        check("three nodes start on PostgreSQL and the bus and become ready",
              wait_for("every node ready", lambda: all(n.ready() for n in nodes), 60))
        logs = [n.log_text() for n in nodes]
        check("each node logs the store and bus it uses, passwords redacted",
              all(re.search(rf"store and bus.*postgres.*{BUS}", l) for l in logs), logs[0][-400:])

        base = {**env, "REPLYX_DATABASE_URL": pg_url(db)}
        op = subprocess.run([BIN, "operator", "add", "--email", "ops@example.test", "--name", "Ops", "--password-stdin"],
                            input=OPERATOR_PASSWORD + "\n", env=base, text=True, capture_output=True)
        assert op.returncode == 0, op.stderr
        added = subprocess.run([BIN, "assistant", "add", "--name", "Cluster test", "--domain", "shop.example"],
                               env=base, text=True, capture_output=True)
        assistant = re.search(r"assistant_id (\S+)", added.stdout).group(1)
        site_token = re.search(r"site_token (\S+)", added.stdout).group(1)

        write_upstream(upstream, nodes)
        assert subprocess.run(nginx).returncode == 0, "nginx starts"
        url = f"http://127.0.0.1:{public}"
        load = subprocess.Popen(
            [LOAD, "--url", url, "--assistant-id", assistant, "--operator-email", "ops@example.test",
             "--pairs", str(PAIRS), "--duration", "900s", "--interval", "1s", "--settle", "40s",
             "--min-success-rate", "0.99", "--site-token", site_token, "--site-origin", SITE_ORIGIN],
            env={**env, "REPLYX_LOAD_OPERATOR_PASSWORD": OPERATOR_PASSWORD},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def all_connected(among):
            w, a = held_by_all(among)
            return w >= PAIRS and a >= PAIRS
        if not check("every client connected through nginx", wait_for("all sockets", lambda: all_connected(nodes), 120),
                     f"held {held_by_all(nodes)}"):
            raise Abort()
        spread = [sum(n.sockets()) for n in nodes]
        check("nginx spread the sockets over all three nodes", all(s > 0 for s in spread), f"sockets per node {spread}")
        crossnode("before the faults", nodes, env)

        # 1. kill -9
        victim = nodes[0]
        victim.kill9()
        others = nodes[1:]
        check("after kill -9 of node1 its clients reconnect through nginx to the others",
              wait_for("sockets on the survivors", lambda: all_connected(others), 60), f"survivors hold {held_by_all(others)}")
        crossnode("with node1 dead, on the survivors", others, env)
        victim.start()
        check("node1 restarts and is ready again", wait_for("node1 ready", victim.ready, 30))
        crossnode("after the kill -9 and restart", nodes, env)

        # 2. the broker restarted
        resyncs_before = [n.metric("replyx_bus_resyncs_total") for n in nodes]
        broker.kill()
        check("with the broker down every node reports not ready",
              wait_for("nodes unready", lambda: all(n.not_ready() for n in nodes), 15))
        time.sleep(2)  # traffic while the bus is down: only the store carries it
        broker.start()
        check("after the broker restarts every node is ready again",
              wait_for("nodes ready", lambda: all(n.ready() for n in nodes), 30))
        resyncs = [n.metric("replyx_bus_resyncs_total") for n in nodes]
        check("every node resynced its sessions after the bus came back",
              all(b is not None and r is not None and r > b for b, r in zip(resyncs_before, resyncs)),
              f"replyx_bus_resyncs_total {resyncs_before} -> {resyncs}")
        crossnode("after the broker restart", nodes, env)

        # 3. partition: node3 cut off from the database and the bus
        if cut:
            held_before = nodes[2].sockets()
            cut.cut()
            check("cut off from the database and the bus, node3 reports not ready",
                  wait_for("node3 unready", nodes[2].not_ready, 20))
            crossnode("while node3 is cut off, on the other two", nodes[:2], env)
            cut.heal()
            check("healed, node3 is ready again", wait_for("node3 ready", nodes[2].ready, 40))
            crossnode("after the partition healed", nodes, env)
            check("node3's clients kept their sockets through the partition",
                  sum(nodes[2].sockets()) >= min(sum(held_before), 1), f"before {held_before}, after {nodes[2].sockets()}")

        # 4. rolling deploy, one node at a time
        for n in nodes:
            rest = [m for m in nodes if m is not n]
            write_upstream(upstream, rest)
            subprocess.run(nginx + ["-s", "reload"], check=True)
            code = n.terminate(DRAIN_GRACE_S + 15)
            check(f"rolling deploy: {n.name} drained and exited 0", code == 0, f"exit {code}")
            n.start()
            ready = wait_for(f"{n.name} ready", n.ready, 30)
            write_upstream(upstream, nodes)
            subprocess.run(nginx + ["-s", "reload"], check=True)
            check(f"rolling deploy: {n.name} is back and ready", ready)
        check("after the rolling deploy every client is connected again",
              wait_for("all sockets", lambda: all_connected(nodes), 90), f"held {held_by_all(nodes)}")
        crossnode("after the rolling deploy", nodes, env)
        still_running = load.poll() is None
        check("the load ran through every fault", still_running)

        code, report = finish(load)
        load = None
        print(json.dumps(report, indent=2))
        check("the load generator's own audit passed", code == 0, f"exit code {code}")
        check("every client received every event: none lost", report["lost"] == 0, f"{report['lost']} lost")
        check("no event twice, none out of order", report["duplicated"] == 0 and report["out_of_order"] == 0,
              f"{report['duplicated']} duplicated, {report['out_of_order']} out of order")
        check("no event reached a socket of another dialog", report["misrouted"] == 0)
        kinds = report["clients_by_kind"]
        check("clients of all three kinds were audited (admin, widget, site)",
              all(kinds.get(k, 0) > 0 for k in ("admin", "widget", "site")) and kinds.get("admin") == PAIRS,
              f"{kinds}")
        check("every dialog's log was read and audited", report["unaudited_dialogs"] == 0 and report["events_expected"] > 0,
              f"{report['events_expected']} deliveries audited")
        check("every message was acknowledged and stored once",
              report["send_failures"] == 0 and report["events_in_log"] == report["messages_sent"],
              f"{report['messages_sent']} sent, {report['events_in_log']} stored")
        check("connection success >= 99%", report["connect_success_rate"] >= 0.99, f"{report['connect_success_rate']:.4f}")
        print(f"\nfigures ({BUS}): {report['clients']} clients on 3 nodes, {report['messages_sent']} messages, "
              f"{report['events_expected']} deliveries audited, {report['reconnects']} reconnects, "
              f"success {report['connect_success_rate']:.4%}, latency p50 {report['latency_p50_ms']:.1f} ms")
    except Abort:
        print("stopped early: nothing after this point would have been under live sockets")
    finally:
        if load is not None:
            load.kill()
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
        nginx_fixture.stop(nginx)
        if broker.proc and broker.proc.poll() is None:
            broker.kill()
        if cut:
            cut.remove()
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if os.environ.get("CLUSTER_TEST_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) and results else 1


class Abort(Exception):
    """A check failed that makes the rest meaningless."""


if __name__ == "__main__":
    sys.exit(main())
