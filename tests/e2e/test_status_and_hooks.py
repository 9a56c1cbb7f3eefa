"""A failed night is noticed (issue 12, point 10).

`status [DIR] --max-age DURATION`: the newest archive, its age, whether it was checked; exit 0 when
fresh, 6 when there is none or it is too old, 3 when it is known to be damaged; --json for scripts.
`--on-success CMD` / `--on-failure CMD` (and the config keys): run through /bin/sh -c after the run,
with the outcome in JELLYFIN_BACKUP_* variables; their output goes to stderr, so --json stays clean;
a failing hook is a warning and never changes the exit status.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_status_and_hooks.py
"""

import shlex
import unittest
from pathlib import Path

import e2e_util as u


class Base(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.tmp / "src")
        self.out = self.mkdir("backups")

    def make(self, *extra) -> Path:
        res = self.create(self.config, self.data, self.out, "--server-version", "10.11.0", "--json", *extra)
        return Path(res.json()["path"])


class Status(Base):
    def test_a_fresh_backup_is_0(self):
        archive = self.make()
        res = u.run(["status", self.out, "--max-age", "1h"])
        self.assertExit(res, 0)
        self.assertIn(archive.name, res.stdout)
        self.assertIn("never", res.stdout, "says it was never checked")
        j = u.run(["status", self.out, "--max-age", "1h", "--json"]).json()
        self.assertIs(j["ok"], True)
        self.assertIs(j["fresh"], True)
        self.assertEqual(j["newest"]["name"], archive.name)
        self.assertEqual(j["newest"]["check"], "never")
        self.assertGreaterEqual(j["age_seconds"], 0)
        self.assertEqual(j["max_age_seconds"], 3600)

    def test_checked_is_said(self):
        self.make()
        self.assertExit(u.run(["verify", self.out, "--quiet"]), 0)
        j = u.run(["status", self.out, "--json"]).json()
        self.assertEqual(j["newest"]["check"], "checked")
        self.assertIs(j["newest"]["verified"], True)

    def test_too_old_is_6(self):
        archive = self.make()
        old = archive.with_name("jellyfin.20200101T000000Z_10.11.0.tar.zst")
        archive.rename(old)
        Path(str(archive) + ".xxh128").unlink()
        res = u.run(["status", self.out, "--max-age", "2d"])
        self.assertExit(res, 6)
        self.assertEqual(len(u.error_lines(res)), 1, res.describe())
        self.assertIn("--max-age", u.error_lines(res)[0])
        j = u.run(["status", self.out, "--max-age", "2d", "--json"]).json()
        self.assertIs(j["fresh"], False)
        self.assertEqual(j["exit_code"], 6)

    def test_none_is_6(self):
        res = u.run(["status", self.out, "--max-age", "1d"])
        self.assertExit(res, 6)
        self.assertIn("no archive", u.error_lines(res)[0])
        j = u.run(["status", self.out, "--json"]).json()
        self.assertIsNone(j["newest"])
        self.assertEqual(j["exit_code"], 6)

    def test_a_damaged_newest_is_3(self):
        archive = self.make()
        u.flip_keeping_mtime(archive)
        self.assertExit(u.run(["verify", self.out, "--quiet"]), 3)
        res = u.run(["status", self.out, "--max-age", "1h"])
        self.assertExit(res, 3)
        self.assertIn("damaged", u.error_lines(res)[0])

    def test_a_future_dated_archive_does_not_look_fresh(self):
        archive = self.make()
        archive.rename(archive.with_name("jellyfin.20990101T000000Z_10.11.0.tar.zst"))
        res = u.run(["status", self.out, "--max-age", "1d"])
        self.assertExit(res, 6)
        self.assertTrue(any("future" in l for l in u.warning_lines(res)), res.describe())

    def test_max_age_is_checked(self):
        self.make()
        res = u.run(["status", self.out, "--max-age", "soon"])
        self.assertExit(res, 2)
        self.assertIn("--max-age", u.error_lines(res)[0])

    def test_the_config_files_output_is_the_default(self):
        self.make()
        conf = u.write_file(self.tmp / "jb.conf", f"output = {self.out}\nmax-age = 1d\n".encode())
        conf.chmod(0o600)
        self.assertExit(u.run(["status", "--config-file", conf]), 0)


class Hooks(Base):
    def hook(self, name: str) -> str:
        """A command that writes its JELLYFIN_BACKUP_* environment to `name`.env, and says hello."""
        dest = shlex.quote(str(self.tmp / f"{name}.env"))
        return f"env | grep ^JELLYFIN_BACKUP_ > {dest}; echo hook-says-hello"

    def told(self, name: str) -> dict | None:
        p = self.tmp / f"{name}.env"
        if not p.exists():
            return None
        return dict(line.split("=", 1) for line in p.read_text().splitlines())

    def test_on_success_is_told_the_archive(self):
        res = u.run(["create", "--config", self.config, "--data", self.data, "--output", self.out, "--json",
                     "--on-success", self.hook("ok"), "--on-failure", self.hook("fail")])
        self.assertExit(res, 0)
        env = self.told("ok")
        self.assertIsNotNone(env, res.describe())
        self.assertIsNone(self.told("fail"))
        self.assertEqual(env["JELLYFIN_BACKUP_COMMAND"], "create")
        self.assertEqual(env["JELLYFIN_BACKUP_OUTCOME"], "success")
        self.assertEqual(env["JELLYFIN_BACKUP_EXIT_CODE"], "0")
        self.assertEqual(env["JELLYFIN_BACKUP_ARCHIVE"], res.json()["path"])
        self.assertEqual(env["JELLYFIN_BACKUP_ERROR"], "")
        self.assertNotIn("hook-says-hello", res.stdout, "the hook's output is not in the --json stdout")
        self.assertIn("hook-says-hello", res.stderr)

    def test_on_failure_is_told_the_error(self):
        res = u.run(["create", "--config", self.config, "--data", self.tmp / "nope", "--output", self.out,
                     "--on-success", self.hook("ok"), "--on-failure", self.hook("fail")])
        self.assertExit(res, 2)
        env = self.told("fail")
        self.assertIsNotNone(env, res.describe())
        self.assertIsNone(self.told("ok"))
        self.assertEqual(env["JELLYFIN_BACKUP_OUTCOME"], "failure")
        self.assertEqual(env["JELLYFIN_BACKUP_EXIT_CODE"], "2")
        self.assertIn("nope", env["JELLYFIN_BACKUP_ERROR"])
        self.assertEqual(env["JELLYFIN_BACKUP_ARCHIVE"], "")

    def test_downtime_is_told(self):
        res = u.run(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                     "--stop-cmd", "true", "--start-cmd", "true", "--on-success", self.hook("ok")])
        self.assertExit(res, 0)
        env = self.told("ok")
        self.assertGreaterEqual(float(env["JELLYFIN_BACKUP_DOWNTIME"]), 0)
        self.assertEqual(env["JELLYFIN_BACKUP_SERVER_RESTARTED"], "yes")

    def test_a_failing_hook_is_a_warning_only(self):
        res = u.run(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                     "--on-success", "exit 9"])
        self.assertExit(res, 0, "the run's own outcome decides")
        self.assertTrue(any("--on-success" in l and "exit 9" in l for l in u.warning_lines(res)), res.describe())

    def test_status_runs_the_failure_hook(self):
        res = u.run(["status", self.out, "--max-age", "1h", "--on-failure", self.hook("fail")])
        self.assertExit(res, 6)
        self.assertEqual(self.told("fail")["JELLYFIN_BACKUP_EXIT_CODE"], "6")

    def test_config_keys(self):
        conf = u.write_file(self.tmp / "jb.conf",
                            f"[create]\non-success = {self.hook('ok')}\non-failure = {self.hook('fail')}\n".encode())
        conf.chmod(0o600)
        res = u.run(["create", "--config-file", conf, "--config", self.config, "--data", self.data,
                     "--output", self.out, "--quiet"])
        self.assertExit(res, 0)
        self.assertEqual(self.told("ok")["JELLYFIN_BACKUP_COMMAND"], "create")


if __name__ == "__main__":
    unittest.main()
