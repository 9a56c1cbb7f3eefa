"""copy SRC DEST: any archive to anywhere, verified while it streams; the copy gets its final name and
its sidecar only when every byte verified, and a damaged source leaves nothing at the destination.
(Copies to and from rclone remotes are in test_rclone.py.)

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_copy.py
"""

import json
import os
import re
import signal
import subprocess
import time
import unittest
from pathlib import Path

import e2e_util as u


def xxh128_of(path: Path) -> str:
    return u.tool(["xxh128sum", path]).stdout.split()[0].decode()


class CopyTest(u.E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("copy")
        config, data = u.make_basic_trees(cls.shared / "src")
        u.write_random_file(data / "random.bin", 2_000_000)
        cls.backups = cls.shared / "backups"
        cls.backups.mkdir()
        res = u.run(["create", "--config", config, "--data", data, "--output", cls.backups,
                     "--server-version", "10.11.0", "--json"])
        if res.code != 0:
            raise RuntimeError(res.describe())
        cls.archive = Path(res.json()["path"])
        cls.blob = cls.archive.read_bytes()

    def assertNothingIn(self, d: Path):
        self.assertEqual(u.list_dir(d), [], "nothing may be left at the destination")

    def test_copy_into_a_directory_keeps_the_name_and_writes_the_sidecar(self):
        dest = self.mkdir("offsite")
        res = u.run(["copy", self.archive, dest, "--json"])
        self.assertExit(res, 0)
        copy = dest / self.archive.name
        self.assertEqual(copy.read_bytes(), self.blob)
        self.assertEqual(sorted(u.list_dir(dest)),
                         sorted([copy.name, copy.name + ".xxh128", copy.name + ".checked"]))
        u.tool(["xxh128sum", "-c", copy.name + ".xxh128"], cwd=dest)
        # Every byte went through the Verifier: the copy counts as checked (issue 12, point 4).
        record = json.loads((dest / (copy.name + ".checked")).read_text())
        self.assertEqual(record["result"], "ok")
        listed = u.run(["list", dest, "--json"]).json()["archives"]
        self.assertEqual([(a["name"], a["check"], a["verified"]) for a in listed], [(copy.name, "checked", True)])
        j = res.json()
        self.assertTrue(j["ok"])
        self.assertEqual(j["dest"], str(copy))
        self.assertEqual(j["bytes"], len(self.blob))
        self.assertEqual(j["xxh128"], xxh128_of(self.archive))
        self.assertEqual(j["sidecar"], str(copy) + ".xxh128")
        self.assertGreater(j["files"], 0)
        self.assertEqual(oct(copy.stat().st_mode & 0o777), oct(0o600), "archives stay private")

    def test_copy_to_a_file_name(self):
        dest = self.mkdir("d") / "renamed.tar.zst"
        res = u.run(["copy", self.archive, dest])
        self.assertExit(res, 0)
        self.assertEqual(dest.read_bytes(), self.blob)
        self.assertIn("Copied", res.stdout)
        u.tool(["xxh128sum", "-c", "renamed.tar.zst.xxh128"], cwd=dest.parent)

    def test_a_destination_not_ending_in_tar_zst_is_a_directory(self):
        # The one rule of --output: a name ending in .tar.zst is a file, anything else a
        # directory (made, mode 0700, when its parent exists), so list and prune see the copy.
        dest = self.mkdir("d") / "jellyfin-latest.backup"
        res = u.run(["copy", self.archive, dest])
        self.assertExit(res, 0)
        self.assertTrue(dest.is_dir(), res.describe())
        self.assertEqual(oct(dest.stat().st_mode & 0o777), oct(0o700))
        self.assertEqual((dest / self.archive.name).read_bytes(), self.blob)
        self.assertNotIn("warning", res.stderr)
        listing = u.run(["list", dest, "--json"])
        self.assertExit(listing, 0)
        self.assertEqual([a["name"] for a in listing.json()["archives"]], [self.archive.name])

    def test_a_destination_whose_parent_is_missing_is_refused(self):
        dest = self.tmp / "no" / "such" / "offsite"
        res = u.run(["copy", self.archive, dest])
        self.assertFails(res, 1, str(dest.parent))
        self.assertFalse((self.tmp / "no").exists())

    def test_a_full_destination_says_so_and_leaves_nothing(self):
        dest = self.mkdir("small")
        why = u.mount_tmpfs(dest, "size=1m,mode=0755")
        if why:
            self.skipTest(why)
        self.addCleanup(subprocess.run, ["umount", "-l", str(dest)])
        res = u.run(["copy", self.archive, dest])
        self.assertFails(res, 1, str(dest), "destination")
        self.assertNotIn("--output", res.stderr, "copy has no --output to choose")
        self.assertNotIn("inspect", res.stderr)
        self.assertNothingIn(dest)

    def test_a_directory_as_source_is_named(self):
        res = u.run(["copy", self.backups, self.mkdir("offsite")])
        self.assertFails(res, 1, str(self.backups), "list")
        self.assertNotIn("inspect", res.stderr)

    def test_damaged_source_leaves_nothing(self):
        bad = self.tmp / self.archive.name
        bad.write_bytes(u.flip(self.blob, len(self.blob) // 2))
        dest = self.mkdir("offsite")
        res = u.run(["copy", bad, dest])
        self.assertFails(res, 3, str(bad))
        self.assertNothingIn(dest)

    def test_truncated_source_leaves_nothing(self):
        bad = self.tmp / "cut.tar.zst"
        bad.write_bytes(self.blob[: len(self.blob) - 1000])
        dest = self.mkdir("offsite")
        self.assertExit(u.run(["copy", bad, dest]), 3)
        self.assertNothingIn(dest)

    def test_an_existing_destination_is_never_replaced(self):
        dest = self.mkdir("offsite")
        (dest / self.archive.name).write_bytes(b"precious")
        res = u.run(["copy", self.archive, dest])
        self.assertFails(res, 1, "already exists")
        self.assertEqual((dest / self.archive.name).read_bytes(), b"precious")
        self.assertEqual(u.list_dir(dest), [self.archive.name])

    def test_missing_source(self):
        dest = self.mkdir("offsite")
        res = u.run(["copy", self.tmp / "nope.tar.zst", dest])
        self.assertNotEqual(res.code, 0)
        self.assertErrorShape(res, "nope.tar.zst")
        self.assertNothingIn(dest)

    def test_copy_from_stdin_names_the_file_from_the_manifest(self):
        dest = self.mkdir("offsite")
        with open(self.archive, "rb") as f:
            res = u.run(["copy", "-", dest, "--json"], stdin=f)
        self.assertExit(res, 0)
        names = [n for n in u.list_dir(dest) if n.endswith(".tar.zst")]
        self.assertEqual(len(names), 1, u.list_dir(dest))
        self.assertRegex(names[0], u.ARCHIVE_NAME_RE)
        self.assertTrue(names[0].endswith("_10.11.0.tar.zst"), names[0])
        self.assertEqual((dest / names[0]).read_bytes(), self.blob)

    def test_copy_to_stdout(self):
        res = u.run(["copy", self.archive, "-"], timeout=60)
        self.assertExit(res, 0)
        self.assertEqual(res.out, self.blob, "stdout carries the archive and nothing else")

    def test_copy_to_stdout_json_goes_to_stderr(self):
        res = u.run(["copy", self.archive, "-", "--json"], timeout=60)
        self.assertExit(res, 0)
        self.assertEqual(res.out, self.blob)
        self.assertIn('"command": "copy"', res.stderr)

    def test_damaged_source_to_stdout_says_to_discard_what_was_written(self):
        bad = self.tmp / self.archive.name
        bad.write_bytes(u.flip(self.blob, len(self.blob) // 2))
        res = u.run(["copy", bad, "-"], timeout=60)
        self.assertFails(res, 3, str(bad), "discard")
        self.assertNotIn("nothing was copied", res.stderr)

    def test_damaged_stream_from_stdin_leaves_nothing(self):
        dest = self.mkdir("offsite")
        res = u.run(["copy", "-", dest], input=u.flip(self.blob, len(self.blob) - 3000))
        self.assertExit(res, 3)
        self.assertNothingIn(dest)

    def test_interrupted_copy_leaves_nothing(self):
        dest = self.mkdir("offsite")
        proc = u.popen(["copy", "-", dest], stdin=subprocess.PIPE)
        # Half the archive, then the copy is stopped while it waits for more.
        proc.stdin.write(self.blob[: len(self.blob) // 2])
        proc.stdin.flush()
        deadline = time.monotonic() + 10
        while not any(n.startswith(".") for n in os.listdir(dest)) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stdin.close()
        err = proc.stderr.read()
        self.assertNotEqual(proc.returncode, 0)
        self.assertNothingIn(dest)
        self.assertIn(b"interrupted by SIGTERM; nothing was written under " + str(dest).encode(), err)

    def test_missing_arguments(self):
        self.assertFails(u.run(["copy", self.archive]), 2, "SRC DEST")

    def test_destination_directory_that_does_not_exist(self):
        res = u.run(["copy", self.archive, str(self.tmp / "no" / "such") + "/"])
        self.assertNotEqual(res.code, 0)
        self.assertErrorShape(res, "no/such")


if __name__ == "__main__":
    unittest.main()
