"""End-to-end harness: start the real `ironsage` binary and drive it with the
real aws CLI and boto3.

The binary path comes from IRONSAGE_BIN (scripts/test builds it). Each test
module gets a fresh server on a free port with a temporary data dir and preset
root keys, unless it asks for a restartable server via the `server_factory`
fixture.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import boto3
import botocore.config
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "123456789012"
ROOT_AK = "AKIAIOSFODNN7EXAMPLE"
ROOT_SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"


def binary():
    b = os.environ.get("IRONSAGE_BIN")
    if b:
        return b
    for p in ("target/release/ironsage", "target/debug/ironsage"):  # release first: the e2e suite moves GiBs
        full = os.path.join(ROOT, p)
        if os.path.exists(full):
            return full
    raise RuntimeError("build ironsage first (scripts/test does) or set IRONSAGE_BIN")


class Server:
    """A running ironsage process."""

    def __init__(self, data_dir, port=0):
        self.data_dir = data_dir
        self.port = port
        self.proc = None
        self.url = None

    def start(self):
        env = dict(os.environ)
        env.update(
            IRONSAGE_ACCOUNT_ID=ACCOUNT,
            IRONSAGE_ROOT_ACCESS_KEY_ID=ROOT_AK,
            IRONSAGE_ROOT_SECRET_ACCESS_KEY=ROOT_SK,
        )
        self.proc = subprocess.Popen(
            [binary(), "serve", "--port", str(self.port), "--data-dir", self.data_dir],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.data_dir, "server.log"), "ab"),
            env=env,
            text=True,
        )
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"ironsage did not start: {line!r}")
        self.url = line.split("listening on ")[1].split()[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def health(self):
        with urllib.request.urlopen(self.url + "/_ironsage/health", timeout=5) as r:
            return json.loads(r.read())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self):
        self.stop(signal.SIGKILL)

    def env(self, **extra):
        """Environment for the aws CLI: exactly what `ironsage env` prints."""
        out = subprocess.run(
            [binary(), "env", "--data-dir", self.data_dir], capture_output=True, text=True, check=True
        ).stdout
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        for line in out.splitlines():
            if line.startswith("export "):
                k, v = line[len("export "):].split("=", 1)
                env[k] = v.strip("'")
        env.update(extra)
        return env

    def aws(self, *args, env=None, check=True, timeout=120):
        """Runs the real aws CLI; returns (rc, parsed stdout or text, stderr)."""
        r = subprocess.run(["aws", *args], capture_output=True, text=True, env=env or self.env(), timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        try:
            out = json.loads(r.stdout) if r.stdout.strip() else None
        except json.JSONDecodeError:
            out = r.stdout
        return r.returncode, out, r.stderr

    def client(self, service, ak=ROOT_AK, sk=ROOT_SK, token=None, region=REGION):
        return boto3.client(
            service,
            endpoint_url=self.url,
            aws_access_key_id=ak,
            aws_secret_access_key=sk,
            aws_session_token=token,
            region_name=region,
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="ironsage-e2e-")
    s = Server(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server_factory():
    made = []

    def make(data_dir=None, port=0):
        d = data_dir or tempfile.mkdtemp(prefix="ironsage-e2e-")
        s = Server(d, port).start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
