"""Two runs never overlap: not on the same backup directory, not on the same Jellyfin trees. The
second one exits 5 ("retry later", apart from 4's "needs a person") naming the holder's pid, or
waits for it with --wait-lock SECONDS; a lock left by a dead process is taken over.

A run is held mid-way by its own --stop-cmd, which runs after the locks are taken and before
anything is read.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_lock.py
"""

import os
import threading
import time
import unittest
from pathlib import Path

import e2e_util as u


class LockTest(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.tmp / "src")
        self.out = self.mkdir("out")
        # Locks go to a directory of this test's own.
        self.locks = self.mkdir("locks")
        self.env = {**os.environ, "JELLYFIN_BACKUP_LOCK_DIR": str(self.locks)}

    def hold(self, *args) -> u.HeldRun:
        """A run held once its locks are taken, before anything is read."""
        return u.HeldRun(self, args, env=self.env)

    def run_bin(self, args):
        return u.run(args, env=self.env)

    def test_second_create_into_the_same_directory_is_refused(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out,
                          "--server-version", "10.11.0")
        config2, data2 = u.make_basic_trees(self.tmp / "other", seed=3)
        res = self.run_bin(["create", "--config", config2, "--data", data2, "--output", self.out])
        self.assertFails(res, 5, str(first.pid), str(self.out), "in use")
        self.assertEqual(u.list_dir(self.out), [], "the refused run wrote nothing")
        first.release()
        self.assertEqual(first.proc.returncode, 0)
        # The directory is free again, and no lock file is left behind.
        self.assertEqual(u.list_dir(self.locks), [])
        self.assertEqual([n for n in os.listdir(self.out) if n.startswith(".")], [])
        res = self.run_bin(["create", "--config", config2, "--data", data2, "--output", self.out,
                            "--server-version", "10.12.0"])
        self.assertExit(res, 0)

    def test_second_run_on_the_same_server_is_refused(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out)
        other_out = self.mkdir("out2")
        res = self.run_bin(["create", "--config", self.config, "--data", self.data, "--output", other_out])
        self.assertFails(res, 5, str(first.pid))
        self.assertEqual(u.list_dir(other_out), [])

    def test_restore_during_a_create_is_refused(self):
        archive = self.create_archive(self.config, self.data)
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.mkdir("o"))
        before = u.snapshot(self.data)
        res = self.run_bin(["restore", archive, "--config", self.config, "--data", self.data])
        self.assertFails(res, 5, str(first.pid))
        self.assertEqual(u.snapshot(self.data), before)

    def test_a_refused_run_does_not_touch_the_server(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out)
        marker = self.tmp / "stopped-by-second"
        res = self.run_bin(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                            "--stop-cmd", f"touch '{marker}'", "--start-cmd", f"touch '{marker}'"])
        self.assertExit(res, 5)
        self.assertFalse(marker.exists(), "the refused run stopped or started the server")

    def test_prune_waits_for_no_create(self):
        self.create(self.config, self.data, self.out, "--server-version", "10.11.0", env=self.env)
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out)
        res = self.run_bin(["prune", self.out, "--keep-last", "1"])
        self.assertFails(res, 5, str(first.pid))
        # A dry run writes nothing and may look.
        self.assertExit(self.run_bin(["prune", self.out, "--keep-last", "1", "--dry-run"]), 0)

    def test_wait_lock_gives_up_after_its_time(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out)
        start = time.monotonic()
        res = self.run_bin(["prune", self.out, "--keep-last", "1", "--wait-lock", "0.5"])
        self.assertGreaterEqual(time.monotonic() - start, 0.5)
        self.assertFails(res, 5, str(first.pid), "--wait-lock")
        res = self.run_bin(["prune", self.out, "--keep-last", "1", "--wait-lock", "0.5", "--json"])
        self.assertExit(res, 5)
        self.assertEqual(res.json()["exit_code"], 5)

    def test_wait_lock_runs_once_the_holder_is_done(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out,
                          "--server-version", "10.11.0")
        timer = threading.Timer(1.0, first.release)
        timer.start()
        try:
            res = self.run_bin(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                                "--server-version", "10.12.0", "--wait-lock", "60"])
        finally:
            timer.join()
        self.assertExit(res, 0)
        self.assertEqual(first.proc.returncode, 0)
        self.assertEqual(len([n for n in u.list_dir(self.out) if n.endswith(".tar.zst")]), 2)

    def test_wait_lock_value_is_checked(self):
        for bad in ("-1", "abc", "1e9"):
            with self.subTest(value=bad):
                res = self.run_bin(["prune", self.out, "--keep-last", "1", "--wait-lock", bad])
                self.assertFails(res, 2, "--wait-lock")

    def test_different_directories_and_servers_run_side_by_side(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out)
        config2, data2 = u.make_basic_trees(self.tmp / "other", seed=3)
        res = self.run_bin(["create", "--config", config2, "--data", data2, "--output", self.mkdir("out2"),
                            "--quiet"])
        self.assertExit(res, 0)

    def test_the_locks_outlive_the_start_of_the_server(self):
        # The start command tries a second create: the first still holds its locks then
        # (it starts the server before it has finished), so the second is refused.
        second = self.tmp / "second.code"
        start = (f"'{u.BIN}' create --config '{self.config}' --data '{self.data}' "
                 f"--output '{self.mkdir('out2')}' --quiet; echo $? > '{second}'")
        res = self.run_bin(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                            "--stop-cmd", "true", "--start-cmd", start])
        self.assertExit(res, 0)
        self.assertEqual(second.read_text().strip(), "5", res.describe())

    def test_a_stale_lock_of_a_killed_run_is_taken_over(self):
        first = self.hold("create", "--config", self.config, "--data", self.data, "--output", self.out)
        locks = u.list_dir(self.locks)
        self.assertEqual(len(locks), 3, "the backup directory and the two trees")
        first.kill()
        self.assertEqual(u.list_dir(self.locks), locks, "kill -9 leaves the lock files behind")
        res = self.run_bin(["create", "--config", self.config, "--data", self.data, "--output", self.out])
        self.assertExit(res, 0)
        taken = [l for l in u.warning_lines(res) if str(first.pid) in l and "no longer running" in l]
        self.assertEqual(len(taken), 1, "one dead run, one warning (for three locks)\n" + res.describe())
        self.assertEqual(u.list_dir(self.locks), [])


if __name__ == "__main__":
    unittest.main()
