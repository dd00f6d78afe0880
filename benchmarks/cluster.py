"""Past one process: replicas of the app behind Debian's nginx, with the deployment's own config.

    python -m benchmarks.cluster --replicas 2 --sessions 4 --seconds 10     (make cluster-test)

Starts ``--replicas`` ``streamlit run app.py`` servers on loopback ports and nginx in front of
them with ``deploy/nginx/chain-rule-lab.conf`` (the file docker compose mounts), only the replica
list and the listen port written for this run. Then it runs the load test through nginx and reads
nginx's access log: each browser (one routing key, the ``crl_replica`` cookie) must have reached
exactly one replica for every request, websocket included, and fresh browsers must be spread over
the replicas.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import free_port, stop_process_group, streamlit_server, wait_healthy
from benchmarks.load_test import LoadResult, rss_growth_bound_mb, run_load

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx" / "chain-rule-lab.conf"
LOG_FORMAT = "$crl_replica_key $upstream_addr $status $request_uri"


def nginx_binary() -> str | None:
    debian = Path("/usr/sbin/nginx")  # not on PATH for every user
    return shutil.which("nginx") or (str(debian) if debian.exists() else None)


def main_config(prefix: Path, listen_port: int, replica_ports: list[int]) -> str:
    """The run's nginx.conf: process settings, the log, and the deployment's file included."""
    (prefix / "crl-replicas.conf").write_text("".join(f"server 127.0.0.1:{p};\n" for p in replica_ports))
    (prefix / "crl-listen.conf").write_text(f"listen 127.0.0.1:{listen_port};\n")
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers may then read and write the run's directory
    return f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format crl '{LOG_FORMAT}';
    access_log {prefix}/access.log crl;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {NGINX_CONF};
}}
"""


@contextmanager
def nginx(replica_ports: list[int]) -> Iterator[tuple[str, Path]]:
    """Debian's nginx in front of the replicas; yields (base URL, access log path)."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx not found: the cluster test needs Debian's nginx (apt-get install nginx)")
    with tempfile.TemporaryDirectory(prefix="crl-nginx-") as tmp:
        prefix = Path(tmp)
        prefix.chmod(0o755)
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, port, replica_ports))
        check = subprocess.run([binary, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected the configuration:\n{check.stderr}")
        proc = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, proc, 30, lambda: f"nginx did not answer: {(prefix / 'error.log').read_text()}")
            yield base, prefix / "access.log"
        finally:
            stop_process_group(proc)


def read_log(path: Path) -> list[tuple[str, str, str, str]]:
    """(routing key, replica address, status, URI) per request nginx answered."""
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            rows.append((parts[0], parts[1], parts[2], parts[3]))
    return rows


@dataclass
class ClusterResult:
    load: LoadResult
    replicas_per_browser: dict[str, set[str]]  # routing key -> replicas its requests reached
    spread: Counter  # replica -> fresh browsers (no cookie) routed there

    @property
    def split_browsers(self) -> list[str]:
        return [k for k, v in self.replicas_per_browser.items() if len(v) != 1]

    def summary(self) -> str:
        per_replica = Counter(next(iter(v)) for v in self.replicas_per_browser.values() if len(v) == 1)
        return (
            f"{self.load.summary()}\nthrough nginx: {len(self.replicas_per_browser)} browsers, "
            f"{len(self.split_browsers)} reached more than one replica; browsers per replica "
            f"{dict(per_replica)}; {sum(self.spread.values())} fresh visitors spread {dict(self.spread)}"
        )


def run_cluster(replicas: int, sessions: int, seconds: float, fresh_visitors: int = 20) -> ClusterResult:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120)) for _ in range(replicas)
        ]
        ports = [int(base.rsplit(":", 1)[1]) for base, _ in servers]
        base, access_log = stack.enter_context(nginx(ports))
        pids, direct = tuple(pid for _, pid in servers), tuple(url for url, _ in servers)
        load = run_load(base, pids, sessions, seconds, settle_s=5, warm=direct)  # each replica loads its models first
        browsers = read_log(access_log)
        for _ in range(fresh_visitors):  # cookie-less visitors: where does nginx send each one?
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10):
                pass
        time.sleep(0.5)  # nginx writes the log line after the response
        fresh = read_log(access_log)[len(browsers) :]
    per_browser: dict[str, set[str]] = defaultdict(set)
    for key, upstream, _status, _uri in browsers:
        per_browser[key].add(upstream)
    return ClusterResult(load, dict(per_browser), Counter(upstream for _, upstream, _, _ in fresh))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10)
    args = p.parse_args(argv)
    result = run_cluster(args.replicas, args.sessions, args.seconds)
    print(result.summary())
    problems = result.load.problems(rss_growth_bound_mb(args.sessions)) + result.split_browsers
    for line in problems:
        print("  problem:", line)
    return 0 if not problems and result.load.held == args.sessions else 1


if __name__ == "__main__":
    raise SystemExit(main())
