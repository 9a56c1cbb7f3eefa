"""Issue 11 (root-safe), the store's part: what anyone who can put a file in a backup directory or in
the lock directory can make root do.

- A FIFO (or a symlink) put where a sidecar or an archive is read never blocks verify, list, prune or
  copy, and is never followed; an archive path that is a FIFO is refused, `-` is the way to stream.
- Archives dated in the future (tiny fakes named jellyfin.2099...) never fill a keep slot: prune
  keeps them, reports them, and decides over the real archives as if they were not there.
- The lock of a tree that does not exist yet is keyed by its normalised absolute path, so `restore
  --data t/data` and `--data /abs/t/data` exclude each other.
- A file planted at a lock path (a symlink, a FIFO) is refused, never written, never waited on.

Tests that play the unprivileged user need root (they use setpriv); they skip otherwise.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_root_safe_store.py
"""

import json
import os
import stat
import subprocess
import sys
import time
import unittest
from datetime import datetime, timezone
from pathlib import Path

import e2e_util as u
import restore_util as r

UTC_ENV = {**os.environ, "TZ": "UTC"}
# Long enough for any honest run here; a run that blocks on a FIFO never ends.
HANG_TIMEOUT = 20


def gen_name(dt: datetime, version: str = "10.11.0") -> str:
    return f"jellyfin.{dt.strftime('%Y%m%dT%H%M%SZ')}_{version}.tar.zst"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def escaped_lock_name(key: str) -> str:
    """keyed_lock_path()'s file name for `key` (short keys only)."""
    out = []
    for c in key.encode():
        ch = chr(c)
        if ch.isascii() and (ch.isalnum() or ch in "._"):
            out.append(ch)
        elif ch == "/":
            out.append("-")
        else:
            out.append(f"%{c:02X}")
    return "jellyfin-backup." + "".join(out) + ".lock"


class StoreBase(u.E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        u.make_shared_archive(cls, "rootsafe-store")

    def setUp(self):
        super().setUp()
        self.dir = self.mkdir("backups")
        self.locks = self.mkdir("locks")
        self.env = {**UTC_ENV, "JELLYFIN_BACKUP_LOCK_DIR": str(self.locks)}

    def place(self, name: str, *, sidecar: bool = True) -> Path:
        path = self.dir / name
        path.write_bytes(self.blob)
        if sidecar:
            (self.dir / (name + ".xxh128")).write_text(f"{self.hash}  {name}\n")
        return path

    def run_bin(self, args, **kw) -> u.Result:
        kw.setdefault("env", self.env)
        kw.setdefault("timeout", HANG_TIMEOUT)
        try:
            return u.run([*args, "--config-file", "none"], **kw)
        except subprocess.TimeoutExpired:
            self.fail(f"{args[0]} blocked for {kw['timeout']} s (a FIFO read?)")


class FifoTest(StoreBase):
    def plant_fifo(self, path: Path):
        os.mkfifo(path, 0o666)
        if u.is_root():
            os.chown(path, u.NOBODY, u.NOBODY)

    def test_fifo_sidecar_blocks_no_command(self):
        name = gen_name(utc(2026, 6, 1, 3))
        archive = self.place(name, sidecar=False)
        sidecar = self.dir / (name + ".xxh128")
        self.plant_fifo(sidecar)

        res = self.run_bin(["verify", archive])
        self.assertExit(res, 0)
        self.assertIn("not a regular file: not read", res.stderr)
        self.assertTrue(stat.S_ISFIFO(os.lstat(sidecar).st_mode), "the FIFO is left as it is")

        res = self.run_bin(["list", self.dir])
        self.assertExit(res, 0)
        self.assertIn(name, res.stdout)
        res = self.run_bin(["prune", self.dir, "--keep-last", "1"])
        self.assertExit(res, 0)
        dest = self.mkdir("copy")
        res = self.run_bin(["copy", archive, dest])
        self.assertIn(res.code, (0,), res.describe())
        self.assertTrue((dest / name).is_file())

    def test_fifo_archive_in_a_directory_blocks_no_command(self):
        real = self.place(gen_name(utc(2026, 6, 1, 3)))
        self.plant_fifo(self.dir / gen_name(utc(2026, 6, 2, 3)))
        res = self.run_bin(["list", self.dir, "--json"])
        self.assertExit(res, 0)
        self.assertEqual([a["name"] for a in res.json()["archives"]], [real.name])
        res = self.run_bin(["prune", self.dir, "--keep-last", "1"])
        self.assertExit(res, 0)
        self.assertTrue(real.is_file())

    def test_explicit_fifo_archive_is_refused_and_stdin_still_works(self):
        fifo = self.tmp / "stream"
        self.plant_fifo(fifo)
        res = self.run_bin(["verify", fifo])
        self.assertFails(res, 4, str(fifo), "not a regular file", "`-`")
        res = self.run_bin(["inspect", fifo])
        self.assertFails(res, 4, str(fifo))
        # A stream is welcome as `-`.
        res = self.run_bin(["verify", "-"], input=self.blob)
        self.assertExit(res, 0)

    @unittest.skipUnless(u.is_root(), "needs root: the link is planted by another user")
    def test_symlinked_archive_is_not_followed_where_another_user_put_it(self):
        secret = self.tmp / "secret"
        secret.write_bytes(self.blob)
        os.chmod(secret, 0o600)
        u.give_to_nobody(self.dir)  # the store is the other user's
        link = self.dir / gen_name(utc(2026, 6, 1, 3))
        os.symlink(secret, link)
        os.lchown(link, u.NOBODY, u.NOBODY)
        res = self.run_bin(["verify", link])
        self.assertFails(res, 4, str(link), "symlink", "not followed")

    @unittest.skipUnless(u.is_root(), "needs root: the directory link is planted by another user")
    def test_our_link_through_a_planted_directory_link_is_refused_and_writes_nothing_there(self):
        # `mine/latest.tar.zst` is ours, but it leads through the other user's store, where `sub`
        # is their link to a directory of root's: root must not verify, nor write a sidecar or a
        # check record, where that link points.
        elsewhere = self.mkdir("elsewhere")
        (elsewhere / "a.tar.zst").write_bytes(self.blob)
        u.give_to_nobody(self.dir)
        os.symlink(elsewhere, self.dir / "sub")
        os.lchown(self.dir / "sub", u.NOBODY, u.NOBODY)
        mine = self.mkdir("mine")
        os.symlink(self.dir / "sub" / "a.tar.zst", mine / "latest.tar.zst")
        res = self.run_bin(["verify", mine / "latest.tar.zst"])
        self.assertFails(res, 4, "sub")
        self.assertEqual(sorted(os.listdir(elsewhere)), ["a.tar.zst"], "nothing written through the link")

    def test_symlinked_archive_of_our_own_is_followed(self):
        # `latest.tar.zst` in a directory only we can write: named by the user, followed.
        real = self.dir / gen_name(utc(2026, 6, 1, 3))
        real.write_bytes(self.blob)
        os.chmod(self.dir, 0o755)
        link = self.dir / "latest.tar.zst"
        os.symlink(real.name, link)
        res = self.run_bin(["verify", link])
        self.assertExit(res, 0)
        # A backup directory's listing never follows it: list shows the real archive once.
        res = self.run_bin(["list", self.dir, "--json"])
        self.assertExit(res, 0)
        self.assertEqual([a["name"] for a in res.json()["archives"]], [real.name])

    @unittest.skipUnless(u.is_root(), "needs root: the unprivileged user races root")
    def test_sidecar_swapped_for_a_fifo_while_root_lists(self):
        """The jellyfin user owns the backup directory and swaps a sidecar between a file and a FIFO
        (rename: atomic) while root lists it: the listing filters FIFOs, the read must too."""
        name = gen_name(utc(2026, 6, 1, 3))
        self.place(name, sidecar=False)
        u.give_to_nobody(self.dir)
        sidecar = self.dir / (name + ".xxh128")
        racer = (
            "import os, sys, time\n"
            "d, name, line, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])\n"
            "end = time.monotonic() + seconds\n"
            "side = os.path.join(d, name)\n"
            "while time.monotonic() < end:\n"
            "    f = os.path.join(d, '.f'); p = os.path.join(d, '.p')\n"
            "    with open(f, 'w') as h: h.write(line)\n"
            "    os.rename(f, side)\n"
            "    try: os.mkfifo(p, 0o666)\n"
            "    except FileExistsError: pass\n"
            "    os.rename(p, side)\n"
        )
        proc = subprocess.Popen(u.SETPRIV + [sys.executable, "-c", racer, str(self.dir), sidecar.name,
                                             f"{self.hash}  {name}\n", "4"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.kill)
        runs = 0
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            res = self.run_bin(["list", self.dir, "--json"])
            # A sidecar that vanished or was a FIFO when read: never a hang; list goes on.
            self.assertIn(res.code, (0, 1), res.describe())
            runs += 1
        proc.wait(timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr.read().decode())
        self.assertGreater(runs, 0)


class FutureDatedTest(StoreBase):
    def test_fakes_from_2099_do_not_push_out_the_real_archives(self):
        real = [self.place(gen_name(utc(2026, 6, d, 3))).name for d in range(1, 6)]
        # What the attacker can write: tiny files whose start is a manifest, under names from 2099.
        fakes = []
        frame = u.zstd_frames(self.blob)[0]
        first_frame = self.blob[:frame.offset + frame.length]
        for d in (1, 2, 3):
            name = gen_name(utc(2099, 1, d, 3))
            (self.dir / name).write_bytes(first_frame)
            fakes.append(name)

        res = self.run_bin(["prune", self.dir, "--keep-daily", "3", "--json"])
        self.assertExit(res, 0)
        j = res.json()
        self.assertEqual(sorted(a["name"] for a in j["keep"]), sorted(real[2:]))
        self.assertEqual(sorted(a["name"] for a in j["remove"]), sorted(real[:2]))
        # A few hundred bytes each, and read as ours: only their date is a lie.
        self.assertLess(len(first_frame), 1024)
        self.assertEqual(sorted(a["name"] for a in j["future"]), sorted(fakes))
        self.assertEqual(j["unreadable"], [])
        for a in j["future"]:
            self.assertTrue(a["dated_in_future"].startswith("2099-01-0"), a)
        for name in fakes + real[2:]:
            self.assertTrue((self.dir / name).exists(), name)

    def test_whole_archives_from_2099_are_kept_and_reported(self):
        real = [self.place(gen_name(utc(2026, 6, d, 3))).name for d in range(1, 6)]
        fakes = [self.place(gen_name(utc(2099, 1, d, 3))).name for d in (1, 2, 3)]
        res = self.run_bin(["prune", self.dir, "--keep-daily", "3"])
        self.assertExit(res, 0)
        for name in fakes:
            self.assertIn(f"Skipped (kept, dated in the future: 2099-01-0", res.stdout)
            self.assertIn(name, res.stdout)
            self.assertTrue((self.dir / name).exists())
        self.assertIn("check the clock or remove it by hand", res.stdout)
        for name in real[2:]:
            self.assertTrue((self.dir / name).exists(), name)
        for name in real[:2]:
            self.assertFalse((self.dir / name).exists(), name)

        # list shows them with a note under the row (the columns stay), and in JSON.
        res = self.run_bin(["list", self.dir])
        self.assertExit(res, 0)
        self.assertEqual(res.stdout.count("dated in the future (2099-01-0"), 3, res.stdout)
        res = self.run_bin(["list", self.dir, "--json"])
        by_name = {a["name"]: a for a in res.json()["archives"]}
        self.assertEqual(by_name[fakes[0]]["dated_in_future"], "2099-01-01T03:00:00Z")
        self.assertIsNone(by_name[real[4]]["dated_in_future"])


class StatusTest(StoreBase):
    def test_an_old_archive_under_a_fresh_name_is_not_fresh(self):
        # Whoever can write the store can give an old archive today's name; its manifest still
        # says when it was made (2026-11-25), and status goes by the older of the two.
        name = gen_name(datetime.now(timezone.utc).replace(microsecond=0))
        b = r.ArchiveBuilder()
        b.base()
        b.archive(self.dir / name)
        res = self.run_bin(["status", self.dir, "--max-age", "1d", "--json"])
        self.assertExit(res, 6)
        self.assertEqual(res.json()["newest"]["name"], name)
        self.assertGreater(res.json()["age_seconds"], 86400)


class LockKeyTest(StoreBase):
    def test_relative_and_absolute_spellings_of_a_new_tree_conflict(self):
        archive = self.place(gen_name(utc(2026, 6, 1, 3)))
        target = self.mkdir("t")
        held = u.HeldRun(self, ["restore", archive, "--config", target / "config", "--data", target / "data",
                                "--config-file", "none"], env=self.env)
        res = self.run_bin(["restore", archive, "--config", "t/config2", "--data", "t//data/",
                            "--stop-cmd", "true"], cwd=self.tmp)
        self.assertFails(res, 5, "in use", str(held.pid))
        held.release()

    @unittest.skipUnless(u.is_root(), "needs root: the unprivileged user plants the lock file")
    def test_planted_lock_files_are_refused_never_followed(self):
        os.chmod(self.locks, 0o1777)  # like /run/lock
        out = self.mkdir("out")
        config, data = self.trees
        lock = self.locks / escaped_lock_name(os.path.realpath(out))
        victim = self.tmp / "victim"
        victim.write_text("keep me")
        # The unprivileged user plants a symlink, then a FIFO, where root's lock goes.
        for plant in (["ln", "-s", str(victim), str(lock)], ["mkfifo", str(lock)]):
            subprocess.run(u.SETPRIV + plant, check=True)
            res = self.run_bin(["create", "--config", config, "--data", data, "--output", out,
                                "--server-version", "10.11.0"])
            self.assertFails(res, 4, str(lock))
            self.assertEqual(victim.read_text(), "keep me")
            self.assertEqual(os.lstat(lock).st_uid, u.NOBODY)
            self.assertEqual(u.list_dir(out), [])
            os.unlink(lock)


if __name__ == "__main__":
    unittest.main()
