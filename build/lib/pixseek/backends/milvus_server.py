"""A local Milvus 2.3 standalone server from the PyPI package ``milvus`` (embedded etcd + rocksmq,
one process), for tests, benchmarks and trying the backend on one machine.

The package's own launcher is used for its config template and binaries; the process is started
here so that it dies with its parent (``PR_SET_PDEATHSIG``: SIGKILL, as Milvus may take long to
honour SIGTERM; its write-ahead log keeps what was acknowledged), listens for clients on loopback
addresses only as far as Milvus 2.3 allows (every component registers 127.0.0.1; its gRPC ports
still bind the wildcard address, as Milvus 2.3 has no listen-address setting), and keeps its data,
logs and unpacked binaries under one directory.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from pixseek.errors import BackendError

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
PR_SET_PDEATHSIG = 1
SESSION_TTL = 10


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class MilvusStandalone:
    """``with MilvusStandalone(tmp_dir) as server: server.url`` -> ``milvus://127.0.0.1:PORT``.

    ``start`` waits for ``/healthz`` at most ``start_timeout`` seconds; ``stop`` sends SIGTERM,
    waits ``stop_timeout`` seconds, then SIGKILL. ``kill`` is SIGKILL at once (crash tests).
    The same ``base_dir`` keeps its data across restarts.
    """

    def __init__(self, base_dir: str | Path, port: int = 0, start_timeout: float = 120, stop_timeout: float = 20):
        self.base_dir = Path(base_dir).resolve()
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.proc: subprocess.Popen | None = None
        self.port = port  # 0: the first free one from 19530 up; a restart keeps the port it got
        self.metrics_port = 0

    @property
    def url(self) -> str:
        return f"milvus://127.0.0.1:{self.port}"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MilvusStandalone":
        import milvus  # the server package: config template + compressed binaries

        cfg = milvus.MilvusServerConfig(data_dir=str(self.base_dir))
        for comp in COMPONENTS:
            cfg.set(f"{comp}.ip", "127.0.0.1")
        # a restart after a crash waits for the dead process's etcd sessions to expire (30 s by default)
        cfg.set("common.session.ttl", SESSION_TTL)
        cfg.resolve()  # picks free ports (from Milvus's defaults up), writes configs/milvus.yaml
        if self.port:  # a restart keeps its port: Milvus binds with SO_REUSEADDR, the package's probe does not
            cfg.set("proxy_port", self.port)
            cfg.write_config()
        milvus._initialize_data_files(str(self.base_dir))  # unpacks bin/ once per base_dir
        self.port = int(cfg.get("proxy_port"))
        self.metrics_port, sock = cfg.resolve_port(9091)
        sock.close()
        peer_port, sock = cfg.resolve_port(int(cfg.get("etcd_port")) + 1)
        sock.close()
        self._embedded_etcd_on_loopback(int(cfg.get("etcd_port")), peer_port)
        exe = self.base_dir / "bin" / "milvus"
        env = os.environ | {
            "DEPLOY_MODE": "STANDALONE", "METRICS_PORT": str(self.metrics_port),
            "MILVUS_RUN_DIR": str(self.base_dir / "run"),
            "LD_LIBRARY_PATH": f"{exe.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}",
        }
        logs = self.base_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / "milvus-stdout.log", "ab") as out, open(logs / "milvus-stderr.log", "ab") as err:
            self.proc = subprocess.Popen([str(exe), "run", "standalone"], cwd=self.base_dir, env=env, stdout=out,
                                         stderr=err, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self._wait_healthy()
        return self

    def _embedded_etcd_on_loopback(self, client_port: int, peer_port: int) -> None:
        """The embedded etcd listens on 2379/2380 unless given a config file (``etcd.config.path``,
        absent from the package's template): give it one with the ports picked, on 127.0.0.1, so
        that two servers (two test sessions) can run side by side."""
        configs = self.base_dir / "configs"
        client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        (configs / "etcd.yaml").write_text(
            f"name: milvus-standalone\nlisten-client-urls: {client}\nadvertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
            f"initial-cluster: milvus-standalone={peer}\n")
        yaml = configs / "milvus.yaml"
        text = yaml.read_text()
        head = "etcd:\n"
        if head not in text:
            raise BackendError(self.url, f"{yaml}: no 'etcd:' section to configure")
        yaml.write_text(text.replace(head, f"{head}  config:\n    path: {configs / 'etcd.yaml'}\n", 1))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        url = f"http://127.0.0.1:{self.metrics_port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BackendError(self.url, f"milvus exited with {self.proc.returncode} while starting; "
                                             f"see {self.base_dir / 'logs'}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if b"OK" in resp.read():
                        return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise BackendError(self.url, f"milvus not healthy after {self.start_timeout:.0f} s; see {self.base_dir / 'logs'}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would (no flush, no goodbye)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> "MilvusStandalone":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
