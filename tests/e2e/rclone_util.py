"""A real rclone server on loopback for the end-to-end tests of rclone: locations.

`rclone serve webdav` serves a local directory; the remote "jbe2e:" reaches it through environment
variables (no rclone config file), which the binary passes on to the rclone it runs. Tests that need it
call `require_rclone(self)` first: without rclone they are skipped with a clear message (the README's
test command and CI install rclone, so there they always run).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

REMOTE = "jbe2e"


def rclone_path() -> str | None:
    return shutil.which("rclone")


def require_rclone(case: unittest.TestCase):
    if rclone_path() is None:
        case.skipTest("rclone is not installed (apt install rclone): skipping the rclone: location tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDavServer:
    """`rclone serve webdav` of a fresh directory; `env` reaches it as the remote jbe2e:."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="jb-e2e-dav-"))
        self.port = _free_port()
        self.log = open(self.root.parent / f"{self.root.name}.log", "wb")
        self.proc = subprocess.Popen(
            [rclone_path(), "serve", "webdav", "--addr", f"127.0.0.1:{self.port}", "--dir-cache-time", "0s",
             str(self.root)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "RCLONE_CONFIG": "/dev/null"})
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("rclone serve webdav did not start")
                time.sleep(0.05)
        self.env = {
            **os.environ,
            f"RCLONE_CONFIG_{REMOTE.upper()}_TYPE": "webdav",
            f"RCLONE_CONFIG_{REMOTE.upper()}_URL": f"http://127.0.0.1:{self.port}",
            f"RCLONE_CONFIG_{REMOTE.upper()}_VENDOR": "other",
            "RCLONE_CONFIG": "/dev/null",
        }

    def url(self, path: str = "") -> str:
        """The location text the binary takes: rclone:jbe2e:<path>."""
        return f"rclone:{REMOTE}:{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
