"""A network partition for one node: a network namespace of its own with two veth
links to the host. Clients (through nginx) reach the node on the client link; the node
reaches PostgreSQL and the broker on the backend link, through socat forwarders bound
to the host side of that link (the database and the broker stay on loopback). Taking
the backend link down cuts the node off from both without a FIN, as a real partition
does, while its clients keep their sockets. Needs root and iproute2 (CI runs as root).
Everything made here is removed by `remove()`, by name; nothing else is touched."""

import os
import subprocess


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Partition:
    def __init__(self, tmp):
        n = os.getpid() % 250 + 1
        self.netns = f"rxc{os.getpid()}"
        self.client_host_if, self.client_ns_if = f"rxa{os.getpid()}", f"rxan{os.getpid()}"
        self.backend_host_if, self.backend_ns_if = f"rxb{os.getpid()}", f"rxbn{os.getpid()}"
        self.client_peer, self.client_addr = f"10.233.{n}.1", f"10.233.{n}.2"
        self.backend_host, self.backend_addr = f"10.234.{n}.1", f"10.234.{n}.2"
        self.forwarders = []
        self.tmp = tmp

    @classmethod
    def make(cls, tmp):
        """Builds the namespace and links; returns None (with the reason printed) when
        this machine cannot (not root, no iproute2)."""
        p = cls(tmp)
        try:
            ip("netns", "add", p.netns)
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print(f"cannot create a network namespace: {getattr(e, 'stderr', e)}", flush=True)
            return None
        try:
            ns = ["-n", p.netns]
            ip(*ns, "link", "set", "lo", "up")
            for host_if, ns_if, host_addr, ns_addr in (
                (p.client_host_if, p.client_ns_if, p.client_peer, p.client_addr),
                (p.backend_host_if, p.backend_ns_if, p.backend_host, p.backend_addr),
            ):
                ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
                ip("link", "set", ns_if, "netns", p.netns)
                ip("addr", "add", f"{host_addr}/30", "dev", host_if)
                ip("link", "set", host_if, "up")
                ip(*ns, "addr", "add", f"{ns_addr}/30", "dev", ns_if)
                ip(*ns, "link", "set", ns_if, "up")
        except subprocess.CalledProcessError as e:
            print(f"cannot set up the partition's links: {e.stderr}", flush=True)
            p.remove()
            return None
        return p

    def forward(self, listen_host, listen_port, to_host, to_port):
        """Forwards `listen_host:listen_port` (host side of the backend link) to a
        loopback service."""
        log = open(self.tmp / f"socat-{listen_port}.log", "w")
        proc = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{listen_port},bind={listen_host},fork,reuseaddr", f"TCP:{to_host}:{to_port}"],
            stdout=log, stderr=subprocess.STDOUT)
        self.forwarders.append(proc)

    def cut(self):
        ip("link", "set", self.backend_host_if, "down")

    def heal(self):
        ip("link", "set", self.backend_host_if, "up")

    def remove(self):
        for proc in self.forwarders:
            proc.kill()
            proc.wait()
        ip("netns", "del", self.netns, check=False)
        for host_if in (self.client_host_if, self.backend_host_if):
            ip("link", "del", host_if, check=False)
