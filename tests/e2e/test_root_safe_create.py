"""create reads only the trees it was given (issue 11, points 1 and 4).

The jellyfin user owns the trees and may change them while root backs them up: a directory swapped
for a symlink to a root-only directory must never be followed (create fails naming it, or the
archive holds none of the secret), paths longer than PATH_MAX back up fine, and device nodes and
setuid/setgid files are stored with a warning.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_root_safe_create.py
"""

import os
import stat
import subprocess
import sys
import tarfile
import time
import unittest
from pathlib import Path

import e2e_util as u

CHANGED = "changed while the backup ran"

# Swaps DATA/metadata for a symlink to SECRET, as the tree's owner.
SWAP = """
import os, sys
data, secret = sys.argv[1], sys.argv[2]
os.rename(os.path.join(data, "metadata"), os.path.join(data, "metadata.real"))
os.symlink(secret, os.path.join(data, "metadata"))
"""

# Flips DATA/metadata between the real directory and a symlink to SECRET as fast as it can, as the
# tree's owner, until STOP exists or DEADLINE (monotonic seconds) passes; leaves the real one.
FLIP = """
import os, sys, time
data, secret, stop, deadline = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
meta = os.path.join(data, "metadata")
real = os.path.join(data, "metadata.real")
link = os.path.join(data, "metadata.link")
os.symlink(secret, link)
while not os.path.exists(stop) and time.monotonic() < deadline:
    os.rename(meta, real); os.rename(link, meta)
    os.rename(meta, link); os.rename(real, meta)
"""


def as_owner(script: str, *args, **kw) -> subprocess.Popen:
    """Runs a Python snippet as the unprivileged owner of the trees."""
    return subprocess.Popen(u.SETPRIV + [sys.executable, "-c", script, *map(str, args)],
                            stdin=subprocess.DEVNULL, cwd="/", **kw)


def archive_bytes(path: Path) -> bytes:
    return u.zstd_decompress(path.read_bytes())


class RootSafeBase(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.mkdir("src"))
        self.out = self.mkdir("out")

    def make_secret(self) -> bytes:
        """A root-only directory shaped like data/metadata, holding a secret the user cannot read."""
        marker = b"SECRET-" + os.urandom(16).hex().encode()
        secret = self.tmp / "secret"
        u.write_file(secret / "shadow", marker + b"\n", 0o600)
        u.write_file(secret / "library" / "ab" / "poster.jpg", marker * 100, 0o600)
        os.chmod(secret, 0o700)
        self.secret = secret
        return marker

    def assertNoSecret(self, archive: Path, marker: bytes):
        tar = archive_bytes(archive)
        self.assertNotIn(marker, tar, "the archive holds the secret")
        self.assertNotIn(b"metadata/shadow", tar, "the archive names a file of the secret directory")


@unittest.skipUnless(u.is_root(), "needs root: the attack is the jellyfin user racing root")
class SwapRaces(RootSafeBase):
    def test_metadata_swapped_for_symlink_while_streaming(self):
        # A big file early in the order keeps create streaming while the owner swaps data/metadata
        # (later in the order) for a symlink to a root-only directory.
        u.write_random_file(self.data / "aaa" / "big.bin", 96 << 20)
        marker = self.make_secret()
        u.give_to_nobody(self.tmp / "src")
        archive = self.out / "a.tar.zst"
        proc = u.popen(["create", "--config", self.config, "--data", self.data, "--output", archive,
                        "--quiet", "--level", "1", "--threads", "1"])
        swapped = False
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [p for p in self.out.iterdir() if p.name.startswith(".")]
            if temps and temps[0].stat().st_size > (1 << 20):  # streaming the big file
                swap = as_owner(SWAP, self.data, self.secret)
                self.assertEqual(swap.wait(timeout=30), 0, "the owner could not swap data/metadata")
                swapped = True
                break
            time.sleep(0.005)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("create did not finish")
        res = u.Result(proc.args, proc.returncode, out, err)
        if res.code == 0:
            # The race was lost (create had read data/metadata before the swap): then the archive
            # holds the real tree and nothing of the secret.
            self.assertNoSecret(archive, marker)
            if swapped:
                print("note: create finished reading data/metadata before the swap", file=sys.stderr)
            return
        self.assertTrue(swapped)
        print("note: create failed on the swapped directory", file=sys.stderr)
        self.assertFails(res, 1, str(self.data / "metadata"), CHANGED, "no archive was written")
        self.assertEqual(u.list_dir(self.out), [], "archive or temp file left in the output dir")

    def test_metadata_flipping_during_whole_runs(self):
        # The owner flips data/metadata between the directory and a symlink during whole runs of
        # create, planning included (the walk's gap between fstatat and open). Every run either
        # fails naming a changed entry or stores nothing of the secret.
        for i in range(20):
            u.write_file(self.data / "spread" / f"f{i:02}", os.urandom(4096))
        marker = self.make_secret()
        u.give_to_nobody(self.tmp / "src")
        stop = self.tmp / "stop"
        flipper = as_owner(FLIP, self.data, self.secret, stop, time.monotonic() + 30)
        self.addCleanup(lambda: (stop.touch(), flipper.wait(timeout=30)))
        started = time.monotonic() + 10
        while not os.path.lexists(self.data / "metadata.link") and time.monotonic() < started:
            time.sleep(0.01)
        self.assertIsNone(flipper.poll(), "the flipper did not start")
        outcomes = {"ok": 0, "changed": 0}
        until = time.monotonic() + 4
        n = 0
        while time.monotonic() < until:
            n += 1
            archive = self.out / f"a{n}.tar.zst"
            res = u.run(["create", "--config", self.config, "--data", self.data, "--output", archive,
                         "--quiet", "--threads", "1"], timeout=60)
            if res.code == 0:
                outcomes["ok"] += 1
                self.assertNoSecret(archive, marker)
            else:
                outcomes["changed"] += 1
                self.assertFails(res, 1, CHANGED)
                self.assertFalse(archive.exists())
        stop.touch()
        self.assertEqual(flipper.wait(timeout=30), 0, "the flipper failed")
        self.assertGreater(n, 0)
        print(f"note: {outcomes}", file=sys.stderr)


class LongPaths(RootSafeBase):
    def test_path_longer_than_path_max_backs_up_and_verifies(self):
        # Built relative to directory fds: the whole path cannot be used in one call.
        name = "n" * 200
        fd = os.open(self.data, os.O_RDONLY | os.O_DIRECTORY)
        rel = "data"
        try:
            while len(str(self.data)) + len(rel) <= 4096 + 200:
                os.mkdir(name, dir_fd=fd)
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = child
                rel += "/" + name
            deep = os.open("deep.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
            os.write(deep, b"at the bottom\n")
            os.close(deep)
        finally:
            os.close(fd)
        archive = self.out / "a.tar.zst"
        self.create(self.config, self.data, archive, "--quiet")
        res = u.run(["verify", archive, "--quiet"])
        self.assertExit(res, 0)
        with tarfile.open(fileobj=__import__("io").BytesIO(archive_bytes(archive))) as tar:
            member = tar.getmember(rel + "/deep.txt")
            self.assertEqual(tar.extractfile(member).read(), b"at the bottom\n")


class SpecialFiles(RootSafeBase):
    def test_setuid_setgid_and_device_nodes_are_stored_with_a_warning(self):
        u.write_file(self.data / "bin" / "suid", b"#!/bin/sh\n", 0o755)
        os.chmod(self.data / "bin" / "suid", 0o4755)
        u.write_file(self.data / "bin" / "sgid", b"#!/bin/sh\n", 0o755)
        os.chmod(self.data / "bin" / "sgid", 0o2755)
        expected = [
            f"{u.WARNING_PREFIX}{self.data}/bin/sgid: setuid/setgid file stored; "
            "restore refuses it unless --allow-special",
            f"{u.WARNING_PREFIX}{self.data}/bin/suid: setuid/setgid file stored; "
            "restore refuses it unless --allow-special",
        ]
        if u.is_root():
            os.mknod(self.data / "bin" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            expected.insert(0, f"{u.WARNING_PREFIX}{self.data}/bin/null: device node stored; "
                               "restore refuses it unless --allow-special")
        archive = self.out / "a.tar.zst"
        res = self.create(self.config, self.data, archive)
        self.assertEqual(u.warning_lines(res), expected)
        self.assertExit(u.run(["verify", archive, "--quiet"]), 0)


if __name__ == "__main__":
    unittest.main()
