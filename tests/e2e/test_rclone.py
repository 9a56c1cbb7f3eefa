"""Offsite through rclone: an rclone remote (rclone:REMOTE:path) works as create --output, and as the
source or target of verify, inspect, restore, list, prune and copy, streaming through `rclone rcat` /
`rclone cat` with no local temporary copy. Tested for real against `rclone serve webdav` on loopback.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_rclone.py
"""

import os
import shutil
import signal
import time
import unittest
from pathlib import Path

import e2e_util as u
import rclone_util as r


def xxh128_of(path: Path) -> str:
    return u.tool(["xxh128sum", path]).stdout.split()[0].decode()


class RcloneTest(u.E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = None
        if r.rclone_path() is None:
            return
        cls.server = r.WebDavServer()
        cls.shared = cls.shared_dir("rclone")
        cls.config, cls.data = u.make_basic_trees(cls.shared / "src")
        u.write_random_file(cls.data / "random.bin", 3_000_000)

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        r.require_rclone(self)
        # Each test works in a remote directory of its own.
        self.sub = self.id().rsplit(".", 1)[-1]
        self.remote_dir = self.server.root / self.sub

    def remote(self, path: str = "") -> str:
        return self.server.url(f"{self.sub}/{path}" if path else self.sub)

    def run_bin(self, args, **kw):
        return u.run(args, env=self.server.env, timeout=120, **kw)

    def remote_names(self) -> list:
        return sorted(os.listdir(self.remote_dir)) if self.remote_dir.exists() else []

    def create_remote(self, *extra) -> dict:
        res = self.run_bin(["create", "--config", self.config, "--data", self.data, "--output", self.remote(),
                            "--server-version", "10.11.0", "--json", *extra])
        self.assertExit(res, 0)
        return res.json()

    def test_create_streams_to_the_remote_with_its_sidecar(self):
        j = self.create_remote()
        names = self.remote_names()
        archives = [n for n in names if n.endswith(".tar.zst")]
        self.assertEqual(len(archives), 1, names)
        self.assertRegex(archives[0], u.ARCHIVE_NAME_RE)
        self.assertEqual(names, sorted([archives[0], archives[0] + ".xxh128"]), "no temporary left behind")
        self.assertEqual(j["path"], self.remote(archives[0]))
        # The sidecar checks the remote copy with standard tools.
        u.tool(["xxh128sum", "-c", archives[0] + ".xxh128"], cwd=self.remote_dir)
        # And the archive is a good one.
        self.assertExit(u.run(["verify", self.remote_dir / archives[0], "--quiet"]), 0)

    def test_create_to_a_remote_file_name(self):
        res = self.run_bin(["create", "--config", self.config, "--data", self.data,
                            "--output", self.remote("mine.tar.zst")])
        self.assertExit(res, 0)
        self.assertEqual(self.remote_names(), ["mine.tar.zst", "mine.tar.zst.xxh128"])

    def test_create_never_replaces_a_remote_archive(self):
        self.remote_dir.mkdir()
        (self.remote_dir / "x.tar.zst").write_bytes(b"precious")
        res = self.run_bin(["create", "--config", self.config, "--data", self.data,
                            "--output", self.remote("x.tar.zst")])
        self.assertFails(res, 1, "already exists")
        self.assertEqual((self.remote_dir / "x.tar.zst").read_bytes(), b"precious")
        self.assertEqual(self.remote_names(), ["x.tar.zst"])

    def test_verify_inspect_list_restore_from_the_remote(self):
        self.create_remote()
        name = [n for n in self.remote_names() if n.endswith(".tar.zst")][0]
        res = self.run_bin(["verify", self.remote(name), "--json"])
        self.assertExit(res, 0)
        self.assertTrue(res.json()["ok"])
        self.assertEqual(res.json()["sidecar"], self.remote(name + ".xxh128"))

        res = self.run_bin(["inspect", self.remote(name), "--json"])
        self.assertExit(res, 0)
        self.assertEqual(res.json()["manifest"]["app"]["version"], "10.11.0")

        res = self.run_bin(["list", self.remote(), "--json"])
        self.assertExit(res, 0)
        [a] = res.json()["archives"]
        self.assertEqual(a["name"], name)
        self.assertTrue(a["verified"])
        self.assertEqual(a["version"], "10.11.0")
        self.assertEqual(a["size"], (self.remote_dir / name).stat().st_size)

        target = self.mkdir("restored")
        res = self.run_bin(["restore", self.remote(name), "--config", target / "config", "--data",
                            target / "data", "--json"])
        self.assertExit(res, 0)
        self.assertEqual(u.compare_trees(self.config, target / "config"), [])
        self.assertEqual(u.compare_trees(self.data, target / "data"), [])

    def list_logged(self) -> tuple[dict, list]:
        """list of the remote directory, with the `rclone cat` runs it made."""
        log = self.tmp / "rclone.log"
        log.unlink(missing_ok=True)
        wrapper = self.tmp / "rclone-logged"
        wrapper.write_text(f"#!/bin/sh\necho \"$*\" >> '{log}'\nexec '{r.rclone_path()}' \"$@\"\n")
        wrapper.chmod(0o755)
        res = u.run(["list", self.remote(), "--json"], env={**self.server.env, "JELLYFIN_BACKUP_RCLONE": str(wrapper)},
                    timeout=120)
        self.assertExit(res, 0)
        remote = {a["name"]: a for a in res.json()["archives"]}
        # The same directory read as a local one, archive by archive: the same answers.
        local_res = u.run(["list", self.remote_dir, "--json"])
        self.assertExit(local_res, 0)
        local = {a["name"]: a for a in local_res.json()["archives"]}
        self.assertEqual(sorted(remote), sorted(local))
        for name, a in local.items():
            for key in ("created", "version", "files", "bytes", "size", "verified", "sidecar", "error"):
                self.assertEqual(remote[name][key], a[key], f"{name}: {key}")
        return remote, [l for l in log.read_text().splitlines() if " cat " in f" {l} "]

    def test_list_reads_the_heads_of_many_archives_in_few_runs(self):
        # Three archives of their own (one name each: the version differs), one
        # too short to hold a head, and a foreign name.
        for version in ("10.10.7", "10.11.0", "10.11.1"):
            self.create_remote("--server-version", version)
        originals = [n for n in self.remote_names() if n.endswith(".tar.zst")]
        self.assertEqual(len(originals), 3)
        (self.remote_dir / "jellyfin.20250103T000000Z_10.9.0.tar.zst").write_bytes(b"short")
        shutil.copy(self.remote_dir / originals[1], self.remote_dir / "mine.tar.zst")
        listed, cats = self.list_logged()
        self.assertEqual(len(listed), 5, sorted(listed))
        # One run fetches the sidecars, one the three heads; the short and the
        # foreign one are read on their own.
        self.assertEqual(len([l for l in cats if "--files-from" in l and "--count 65536" in l]), 1, cats)
        self.assertEqual(len(cats), 2 + 2, cats)

        # A renamed copy and a damaged original: the heads no longer add up,
        # and each archive is read on its own, its damage shown.
        shutil.copy(self.remote_dir / originals[0], self.remote_dir / "jellyfin.20250101T000000Z_10.9.0.tar.zst")
        blob = bytearray((self.remote_dir / originals[0]).read_bytes())
        blob[0] ^= 0x55
        (self.remote_dir / originals[0]).write_bytes(bytes(blob))
        listed, cats = self.list_logged()
        self.assertEqual(len(listed), 6, sorted(listed))
        self.assertIsNotNone(listed[originals[0]]["error"])
        self.assertIsNone(listed["jellyfin.20250101T000000Z_10.9.0.tar.zst"]["error"])

    def test_a_damaged_remote_archive_is_caught(self):
        self.create_remote()
        name = [n for n in self.remote_names() if n.endswith(".tar.zst")][0]
        p = self.remote_dir / name
        p.write_bytes(u.flip(p.read_bytes(), p.stat().st_size // 2))
        res = self.run_bin(["verify", self.remote(name)])
        self.assertExit(res, 3)
        target = self.mkdir("restored")
        res = self.run_bin(["restore", self.remote(name), "--config", target / "config", "--data",
                            target / "data"])
        self.assertExit(res, 3)
        self.assertEqual(u.list_dir(target), [])

    def test_copy_local_to_remote_and_back(self):
        local = self.create_archive(self.config, self.data, name="jellyfin.20261101T031500Z_10.11.0.tar.zst")
        res = self.run_bin(["copy", local, self.remote()])
        self.assertExit(res, 0)
        self.assertEqual((self.remote_dir / local.name).read_bytes(), local.read_bytes())
        u.tool(["xxh128sum", "-c", local.name + ".xxh128"], cwd=self.remote_dir)

        back = self.mkdir("back")
        res = self.run_bin(["copy", self.remote(local.name), back])
        self.assertExit(res, 0)
        self.assertEqual((back / local.name).read_bytes(), local.read_bytes())
        u.tool(["xxh128sum", "-c", local.name + ".xxh128"], cwd=back)

        res = self.run_bin(["copy", self.remote(local.name), self.remote("second/")])
        self.assertExit(res, 0)
        self.assertEqual((self.remote_dir / "second" / local.name).read_bytes(), local.read_bytes())

    def test_a_damaged_copy_to_the_remote_leaves_nothing(self):
        local = self.create_archive(self.config, self.data)
        local.write_bytes(u.flip(local.read_bytes(), local.stat().st_size // 2))
        res = self.run_bin(["copy", local, self.remote()])
        self.assertExit(res, 3)
        self.assertEqual(self.remote_names(), [], "no archive and no temporary on the remote")

    def test_an_interrupted_create_leaves_nothing_on_the_remote(self):
        # Stopped half-way through a 60 MB upload.
        big = self.mkdir("big")
        u.write_random_file(big / "data" / "blob.bin", 60_000_000)
        (big / "config").mkdir()
        (big / "config" / "system.xml").write_text("<x/>")
        proc = u.popen(["create", "--config", big / "config", "--data", big / "data", "--output",
                        self.remote(), "--level", "1"], env=self.server.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.remote_dir.exists() and any(n.startswith(".") for n in os.listdir(self.remote_dir)):
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertNotEqual(proc.returncode, 0, err)
        time.sleep(0.5)
        self.assertEqual([n for n in self.remote_names() if not n.startswith(".")], [],
                         "nothing under a final name")
        self.assertEqual(self.remote_names(), [], "and no temporary either")

    def test_prune_on_the_remote(self):
        local = self.create_archive(self.config, self.data)
        self.remote_dir.mkdir()
        names = [f"jellyfin.202611{d:02d}T031500Z_10.11.0.tar.zst" for d in (1, 2, 3)]
        for n in names:
            shutil.copy(local, self.remote_dir / n)
        (self.remote_dir / "notes.txt").write_text("mine")
        res = self.run_bin(["prune", self.remote(), "--keep-last", "1", "--json"])
        self.assertExit(res, 0)
        self.assertEqual(sorted(a["name"] for a in res.json()["remove"]), names[:2])
        self.assertEqual(self.remote_names(), sorted([names[2], "notes.txt"]))

    def test_missing_remote_archive(self):
        res = self.run_bin(["verify", self.remote("nope.tar.zst")])
        self.assertIn(res.code, (1, 2), res.describe())
        self.assertErrorShape(res, "nope.tar.zst")

    def test_unknown_remote(self):
        res = self.run_bin(["list", "rclone:no-such-remote:x"])
        self.assertIn(res.code, (1, 2), res.describe())
        self.assertErrorShape(res, "no-such-remote")

    def test_rclone_missing(self):
        env = {**self.server.env, "JELLYFIN_BACKUP_RCLONE": str(self.tmp / "no-rclone")}
        res = u.run(["list", self.remote()], env=env)
        self.assertExit(res, 2)
        self.assertErrorShape(res, "rclone")


if __name__ == "__main__":
    unittest.main()
