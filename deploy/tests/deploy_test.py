#!/usr/bin/env python3
"""The deploy proof: Debian's nginx and the blue colour on loopback, a few hundred live
clients (replyx-load) exchanging messages through nginx, then:

  1. a deploy to a green that never becomes ready   -> refused, blue keeps serving
  2. a deploy to a green that is ready but fails the probe -> refused, blue keeps serving
  3. safe-deploy.sh to a good green                  -> switched, blue drained
  4. rollback.sh                                     -> back on blue, green drained
  5. a deploy whose watch fails                      -> rolled back by itself

all of it while every client is connected (the test fails when they never all
connect) and sending; then the load's sending phase is ended and every client's stream
is audited against its dialog's whole log by (dialog, seq): nothing lost, repeated,
reordered or misrouted, connection success >= 99.9%, reconnects through every switch
spread over the drain window, drained colours exiting 0 within their grace period.
Ends with "N passed, N failed".
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
from pathlib import Path

import nginx_fixture

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(os.environ.get("REPLYX_BIN", ROOT / "target/debug/replyx"))
LOAD = Path(os.environ.get("REPLYX_LOAD_BIN", ROOT / "target/debug/replyx-load"))
PAIRS = int(os.environ.get("DEPLOY_TEST_PAIRS", "150"))
DRAIN_GRACE_S = 12
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)


def sh(cmd, env, **kw):
    print(f"$ {' '.join(map(str, cmd))}", flush=True)
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True, **kw)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
    print("\n".join("    " + l for l in tail.splitlines()), flush=True)
    return proc


class Abort(Exception):
    """A check failed that makes the rest meaningless."""


def health(url):
    got = subprocess.run(["curl", "-fsS", "--max-time", "2", f"{url}/health/websocket"], capture_output=True, text=True)
    return json.loads(got.stdout) if got.returncode == 0 else None


def wait_connected(url, pairs, seconds):
    """Waits until `url` holds a widget and an operator socket for each of `pairs` pairs;
    returns (whether it did, what it held last). Polls the server's own count: there is
    no event to await from outside."""
    deadline = time.monotonic() + seconds
    held = None
    while time.monotonic() < deadline:
        held = health(url)
        if held and held["active_widget_connections"] >= pairs and held["active_admin_connections"] >= pairs:
            return True, f"{held['active_widget_connections']} widget + {held['active_admin_connections']} admin sockets"
        time.sleep(0.5)
    got = f"{held['active_widget_connections']} widget + {held['active_admin_connections']} admin" if held else "no answer"
    return False, f"after {seconds}s blue holds {got} sockets of {pairs} + {pairs}"


def finish(load):
    """Ends the load's sending phase (SIGINT), lets it settle and audit; returns its exit
    code and report."""
    load.send_signal(signal.SIGINT)
    out, err = load.communicate(timeout=240)
    sys.stderr.write(err[-2000:])
    return load.returncode, json.loads(out)


def main():
    tmp = Path(tempfile.mkdtemp(prefix="replyx-deploy-"))
    free_port = nginx_fixture.free_port
    public, blue, green = free_port(), free_port(), free_port()
    state = tmp / "state"
    nginx, upstream = nginx_fixture.configure(tmp / "nginx", public)

    db = f"sqlite://{tmp}/replyx.db"
    secret = "deploy-test-secret-0123456789abcdef"
    base_env = {**os.environ, "REPLYX_DATABASE_URL": db, "REPLYX_SECRET": secret}
    op = subprocess.run([BIN, "operator", "add", "--email", "ops@example.test", "--name", "Ops", "--password-stdin"],
                        input="correct horse battery\n", env=base_env, text=True, capture_output=True)
    assert op.returncode == 0, op.stderr
    added = subprocess.run([BIN, "assistant", "add", "--name", "Deploy test"], env=base_env, text=True, capture_output=True)
    assistant = re.search(r"assistant_id (\S+)", added.stdout).group(1)

    local_env = tmp / "replyx.env"
    local_env.write_text("\n".join([
        f"REPLYX_DATABASE_URL={db}", f"REPLYX_SECRET={secret}", f"REPLYX_DRAIN_GRACE={DRAIN_GRACE_S}s",
        "REPLYX_TRUSTED_PROXIES=127.0.0.1", "REPLYX_WS_CONNECTS_PER_IP_PER_MINUTE=1000000",
        "REPLYX_VISITOR_REQUESTS_PER_IP_PER_MINUTE=1000000", "REPLYX_CANARY_INTERVAL=2s",
        "REPLYX_ASSISTANT_REPLY_DELAY=0ms", "RUST_LOG=info"]) + "\n")
    env = {**os.environ,
           "REPLYX_DEPLOY_ENV": "/dev/null", "REPLYX_RUNNER": "local", "REPLYX_DEPLOY_STATE": str(state),
           "PUBLIC_URL": f"http://127.0.0.1:{public}", "BLUE_URL": f"http://127.0.0.1:{blue}",
           "GREEN_URL": f"http://127.0.0.1:{green}", "NGINX_ACTIVE_UPSTREAM": str(upstream),
           "NGINX_TEST": " ".join(nginx + ["-t", "-q"]), "NGINX_RELOAD": " ".join(nginx + ["-s", "reload"]),
           "REPLYX_BIN": str(BIN), "LOCAL_ENV_FILE": str(local_env), "PROBE_ASSISTANT_ID": assistant,
           "PROBE_MAX_LATENCY": "2s", "READY_TIMEOUT": "20", "DRAIN_TIMEOUT": str(DRAIN_GRACE_S + 10),
           "WATCH_INTERVAL": "1", "WATCH_COUNT": "3"}
    safe_deploy, rollback = str(DEPLOY / "safe-deploy.sh"), str(DEPLOY / "rollback.sh")
    load = None
    try:
        # Blue first: the first deploy writes the upstream before nginx starts.
        upstream.write_text(f"upstream replyx_active {{ server 127.0.0.1:{blue}; }}\n")
        assert subprocess.run(nginx, env=env).returncode == 0, "nginx starts"
        first = sh([safe_deploy, "blue"], env)
        check("first deploy brings up blue behind nginx", first.returncode == 0)

        load = subprocess.Popen(
            [LOAD, "--url", env["PUBLIC_URL"], "--assistant-id", assistant, "--operator-email", "ops@example.test",
             "--pairs", str(PAIRS), "--duration", os.environ.get("DEPLOY_TEST_DURATION", "240s"), "--interval", "1s", "--settle", "40s"],
            env={**env, "REPLYX_LOAD_OPERATOR_PASSWORD": "correct horse battery"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Every client is connected once blue holds both sockets of every pair; until
        # then nothing below would be "under live sockets".
        connected = wait_connected(env["BLUE_URL"], PAIRS, seconds=90)
        check("every client connected before the deploys", connected[0], connected[1])
        if not connected[0]:
            finish(load)
            load = None
            raise Abort()

        never_ready = sh([safe_deploy, "green"], {**env, "GREEN_EXTRA_ENV": "REPLYX_DATABASE_URL=sqlite:///nonexistent/dir/x.db"})
        check("a green that never becomes ready is not switched to", never_ready.returncode != 0
              and (state / "active").read_text().strip() == "blue" and "never became ready" in never_ready.stderr)
        check("blue serves after the refused deploy", sh([BIN, "probe", "--url", env["PUBLIC_URL"], "--assistant-id", assistant, "--max-latency", "2s"], env).returncode == 0)

        bad_probe = sh([safe_deploy, "green"], {**env, "GREEN_EXTRA_ENV": "REPLYX_MAX_MESSAGE_CHARS=5"})
        check("a green that is ready but fails the probe is not switched to", bad_probe.returncode != 0
              and (state / "active").read_text().strip() == "blue" and "smoke checks" in bad_probe.stderr)

        started = time.monotonic()
        deployed = sh([safe_deploy, "green"], env)
        drain_blue = time.monotonic() - started
        check("safe-deploy.sh switches to green", deployed.returncode == 0 and (state / "active").read_text().strip() == "green")
        check("blue exited cleanly within its grace period", (state / "blue.exit").read_text().strip() == "0",
              re.search(r"blue exited with code \S+ after \d+s", deployed.stdout).group(0) if "blue exited" in deployed.stdout else deployed.stdout[-300:])

        rolled = sh([rollback], env)
        check("rollback.sh switches back to blue", rolled.returncode == 0 and (state / "active").read_text().strip() == "blue")
        check("green exited cleanly within its grace period", (state / "green.exit").read_text().strip() == "0")
        again = sh([rollback, "blue"], env)
        check("rollback.sh is idempotent", again.returncode == 0 and "already active" in again.stdout)

        # The automatic rollback, still under the audited load: green is deployed, its
        # watch fails, and blue takes the sockets back.
        watch_fails = sh([safe_deploy, "green"], {**env, "WATCH_MAX_LATENCY": "0ms"})
        check("a deploy whose watch fails rolls back by itself", watch_fails.returncode != 0 and "rolled back to blue" in watch_fails.stderr
              and (state / "active").read_text().strip() == "blue")
        check("blue serves after the automatic rollback", sh([BIN, "probe", "--url", env["PUBLIC_URL"], "--assistant-id", assistant, "--max-latency", "2s"], env).returncode == 0)
        still_running = load.poll() is None
        check("the load was still running through the automatic rollback", still_running,
              "" if still_running else "the load ended before the last deploy step: raise DEPLOY_TEST_DURATION")
        # The load ends once every client is back on blue, so that the figures describe
        # the deploys and not sockets caught mid-reconnect by the end of the run.
        back = wait_connected(env["BLUE_URL"], PAIRS, seconds=60)
        check("every client reconnected to blue after the automatic rollback", back[0], back[1])

        code, report = finish(load)
        load = None
        print(json.dumps(report, indent=2))
        check("the load generator's own audit passed", code == 0, f"exit code {code}")
        check("every client received every event: none lost", report["lost"] == 0, f"{report['lost']} lost")
        check("no event twice, none out of order", report["duplicated"] == 0 and report["out_of_order"] == 0)
        check("no event reached a socket of another dialog", report["misrouted"] == 0, f"{report['misrouted']} misrouted")
        check("every dialog's log was read and audited", report["unaudited_dialogs"] == 0 and report["events_expected"] > 0,
              f"{report['unaudited_dialogs']} unaudited, {report['events_expected']} deliveries audited")
        check("every message was acknowledged and stored once", report["send_failures"] == 0 and report["events_in_log"] == report["messages_sent"],
              f"{report['messages_sent']} sent, {report['events_in_log']} stored")
        check("connection success >= 99.9%", report["connect_success_rate"] >= 0.999, f"{report['connect_success_rate']:.4f}")
        # Four switches (deploy, rollback, and the automatic rollback's two), each moving
        # both sockets of every pair.
        check("clients reconnected through every switch", report["reconnects"] >= 4 * 2 * PAIRS * 0.9, f"{report['reconnects']} reconnects")
        check("reconnects spread over the drain window, not one spike", report["reconnect_spread_ms"] > 1000, f"{report['reconnect_spread_ms']:.0f} ms")

        print(f"\nfigures: {report['clients']} clients, {report['messages_sent']} messages, {report['events_expected']} deliveries audited, "
              f"{report['reconnects']} reconnects (max {report['max_reconnect_ms']:.0f} ms, spread {report['reconnect_spread_ms']:.0f} ms), "
              f"success {report['connect_success_rate']:.4%}, deploy with drain {drain_blue:.1f} s, latency p50 {report['latency_p50_ms']:.1f} ms")
    except Abort:
        print("stopped early: nothing after this point would have been under live sockets")
    finally:
        if load is not None:
            load.kill()
        for colour in ("blue", "green"):
            pid = state / f"{colour}.pid"
            if pid.exists():
                subprocess.run(["pkill", "-TERM", "-P", pid.read_text().strip()])
        nginx_fixture.stop(nginx)
        for colour in ("blue", "green"):
            pid = state / f"{colour}.pid"
            deadline = time.monotonic() + 30
            while pid.exists() and time.monotonic() < deadline and subprocess.run(["kill", "-0", pid.read_text().strip()], capture_output=True).returncode == 0:
                time.sleep(0.2)
        if os.environ.get("DEPLOY_TEST_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
