"""The config file: default flags for every command, so that a scheduled run needs no command line.

The default file is /etc/jellyfin-backup.conf; these tests never touch /etc and name their own file
with --config-file FILE or $JELLYFIN_BACKUP_CONFIG. "key = value" lines ('#' comments), keys are long
flag names without "--", repeatable flags one line per value, on/off flags yes/no; "[command]"
sections hold keys for that command only, and override the same key outside. A key outside a section
goes to every command that takes that flag and is ignored by the others; list and prune use `output`
as their directory. The command line wins, and one of --service/--container/--stop-cmd/--start-cmd
(or --keep-old/--discard-old) on it drops the file's whole group. Mistakes are usage errors (exit 2)
naming FILE:LINE; a file others could have written is refused (exit 4).

Run: JB_BIN=build-e2e/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_config_file.py
"""

import json
import os
import shlex
import unittest
from pathlib import Path

import e2e_util as u

ARCHIVE_SUFFIX = "_10.11.0.tar.zst"


class ConfigFileBase(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.tmp / "src")
        self.out = self.mkdir("out")
        self.env = {k: v for k, v in os.environ.items() if k != "JELLYFIN_BACKUP_CONFIG"}
        self.env["JELLYFIN_BACKUP_LOCK_DIR"] = str(self.mkdir("locks"))
        self.env["TZ"] = "UTC"

    def conf(self, text: str, name: str = "jb.conf", mode: int = 0o600) -> Path:
        path = self.tmp / name
        path.write_text(text)
        os.chmod(path, mode)
        return path

    def trees_conf(self, extra: str = "", *, output=None) -> Path:
        """A file that names the trees, the output and the version: all create needs."""
        return self.conf(
            "# jellyfin-backup test configuration\n"
            "\n"
            f"output = {output or self.out}\n"
            f"config = {self.config}\n"
            f"data = {self.data}\n"
            "   # an indented comment\n"
            "server-version = 10.11.0\n"
            + extra)

    def jb(self, *args, expect: int | None = 0, env=None) -> u.Result:
        res = u.run(list(args), env=self.env if env is None else env)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def archives(self, d: Path) -> list[str]:
        return sorted(n for n in os.listdir(d) if n.endswith(".tar.zst"))

    def one_archive(self, d: Path) -> Path:
        names = self.archives(d)
        self.assertEqual(len(names), 1, f"expected one archive in {d}: {os.listdir(d)}")
        self.assertTrue(u.ARCHIVE_NAME_RE.match(names[0]) and names[0].endswith(ARCHIVE_SUFFIX), names)
        return d / names[0]

    def manifest(self, archive: Path) -> dict:
        return json.loads(u.read_member(u.zstd_decompress(archive.read_bytes()), "MANIFEST.json"))

    def backup_dir(self, count: int, d: Path | None = None) -> tuple[Path, list[str]]:
        """A directory of `count` archives a day apart (copies of one real archive, each with its
        sidecar), oldest first."""
        d = d or self.mkdir("backups")
        src = self.mkdir("one")
        self.jb("create", "--config-file", "none", "--config", self.config, "--data", self.data,
                "--output", src, "--server-version", "10.11.0", "--quiet")
        archive = self.one_archive(src)
        blob = archive.read_bytes()
        digest = u.tool(["xxh128sum", archive]).stdout.split()[0].decode()
        names = []
        for i in range(count):
            name = f"jellyfin.202601{i + 1:02d}T033000Z_10.11.0.tar.zst"
            (d / name).write_bytes(blob)
            (d / (name + ".xxh128")).write_text(f"{digest}  {name}\n")
            names.append(name)
        return d, names


class ConfigFileApplies(ConfigFileBase):
    def test_create_with_only_the_config_file(self):
        # Keys that create does not take (keep-daily, check) are ignored by it.
        f = self.trees_conf("keep-daily = 3\ncheck = yes\n")
        res = self.jb("create", "--config-file", f)
        archive = self.one_archive(self.out)
        m = self.manifest(archive)
        self.assertEqual(m["app"]["version"], "10.11.0")
        self.assertEqual(m["app"]["version_source"], f"config file {f}:7")
        self.assertEqual([t["source"] for t in m["trees"]].count(str(self.config)), 1, m["trees"])
        self.assertEqual(u.error_lines(res), [])
        self.assertExit(self.jb("verify", "--quiet", "--config-file", f, archive), 0)

    def test_environment_variable_names_the_file(self):
        f = self.trees_conf()
        self.jb("create", env={**self.env, "JELLYFIN_BACKUP_CONFIG": str(f)})
        self.one_archive(self.out)

    def test_command_line_wins(self):
        f = self.trees_conf("level = 1\n")
        other = self.mkdir("other")
        self.jb("create", "--config-file", f, "--output", other, "--level", "7")
        self.assertEqual(self.archives(self.out), [])
        m = self.manifest(self.one_archive(other))
        self.assertEqual(m["compression"]["level"], 7)

    def test_exclude_lines_add_up(self):
        f = self.trees_conf("exclude = *.jpg\n# a second pattern\nexclude = device.txt\n")
        self.jb("create", "--config-file", f)
        archive = self.one_archive(self.out)
        names = u.archive_names(archive)
        self.assertNotIn("data/metadata/library/ab/poster.jpg", names)
        self.assertNotIn("data/data/device.txt", names)
        self.assertIn("data/data/jellyfin.db", names)
        self.assertEqual(self.manifest(archive)["excludes"], ["*.jpg", "device.txt"])

    def test_command_line_exclude_replaces_the_files(self):
        f = self.trees_conf("exclude = *.jpg\n")
        self.jb("create", "--config-file", f, "--exclude", "device.txt")
        names = u.archive_names(self.one_archive(self.out))
        self.assertNotIn("data/data/device.txt", names)
        self.assertIn("data/metadata/library/ab/poster.jpg", names)

    def test_section_for_one_command(self):
        listed, _ = self.backup_dir(2)
        created = self.mkdir("created")
        f = self.trees_conf("[create]\n"
                            f"output = {created}\n"
                            "level = 9\n"
                            "[list]\n"
                            "check = yes\n",
                            output=listed)
        self.jb("create", "--config-file", f, "--quiet")
        self.assertEqual(len(self.archives(listed)), 2, "create used the [create] output")
        m = self.manifest(self.one_archive(created))
        self.assertEqual(m["compression"]["level"], 9)
        # list takes the output outside the section (and --check from its own).
        j = self.jb("list", "--config-file", f, "--json").json()
        self.assertEqual(j["location"], str(listed))
        self.assertEqual(len(j["archives"]), 2)

    def test_list_without_a_directory_uses_output(self):
        d, names = self.backup_dir(3)
        f = self.trees_conf(output=d)
        j = self.jb("list", "--config-file", f, "--json").json()
        self.assertEqual(j["location"], str(d))
        self.assertEqual([a["name"] for a in j["archives"]], names[::-1])
        res = self.jb("list", "--config-file", f)
        for n in names:
            self.assertIn(n, res.stdout)
        # A directory on the command line wins.
        other = self.mkdir("empty")
        j = self.jb("list", "--config-file", f, other, "--json").json()
        self.assertEqual(j["location"], str(other))
        self.assertEqual(j["archives"], [])

    def test_prune_with_the_policy_from_the_file(self):
        d, names = self.backup_dir(5)
        f = self.conf(f"output = {d}\nservice = jellyfin\n[prune]\nkeep-last = 2\n")
        j = self.jb("prune", "--config-file", f, "--json", "--dry-run").json()
        self.assertEqual(j["location"], str(d))
        self.assertEqual(j["policy"]["keep_last"], 2)
        self.assertEqual(sorted(a["name"] for a in j["keep"]), names[3:])
        # The command line wins over the file.
        j = self.jb("prune", "--config-file", f, "--json", "--dry-run", "--keep-last", "4").json()
        self.assertEqual(j["policy"]["keep_last"], 4)
        self.assertEqual(len(j["keep"]), 4)
        self.jb("prune", "--config-file", f, "--quiet")
        self.assertEqual(self.archives(d), names[3:])

    def test_prune_with_keys_outside_any_section(self):
        d, names = self.backup_dir(4)
        f = self.conf(f"output = {d}\nkeep-daily = 1\nkeep-version-change = yes\n")
        j = self.jb("prune", "--config-file", f, "--json").json()
        self.assertIs(j["policy"]["keep_version_change"], True)
        self.assertEqual(j["policy"]["keep_daily"], 1)
        self.assertEqual(self.archives(d), names[3:])

    def test_server_control_from_the_file(self):
        a, b = self.tmp / "stopped", self.tmp / "started"
        f = self.trees_conf(f"stop-cmd = touch {shlex.quote(str(a))}\n"
                            f"start-cmd = touch {shlex.quote(str(b))}\n")
        self.jb("create", "--config-file", f, "--quiet")
        self.assertTrue(a.exists() and b.exists(), "the file's stop-cmd and start-cmd ran")

    def test_one_server_flag_on_the_command_line_drops_the_files_group(self):
        a, b, c = self.tmp / "file-stop", self.tmp / "file-start", self.tmp / "cli-stop"
        f = self.trees_conf(f"stop-cmd = touch {shlex.quote(str(a))}\n"
                            f"start-cmd = touch {shlex.quote(str(b))}\n")
        self.jb("create", "--config-file", f, "--quiet", "--stop-cmd", f"touch {shlex.quote(str(c))}")
        self.assertTrue(c.exists())
        self.assertFalse(a.exists(), "the file's stop-cmd ran although the command line gave one")
        self.assertFalse(b.exists(), "the file's start-cmd ran although the command line gave --stop-cmd")
        # A service in the file does not clash with commands on the command line.
        f = self.trees_conf("service = jb-e2e-no-such-unit\n", output=self.mkdir("out2"))
        self.jb("create", "--config-file", f, "--quiet", "--stop-cmd", "true", "--start-cmd", "true")

    def test_keep_old_on_the_command_line_drops_discard_old_from_the_file(self):
        archive = self.out / "a.tar.zst"
        self.jb("create", "--config-file", "none", "--config", self.config, "--data", self.data,
                "--output", archive, "--server-version", "10.11.0", "--quiet")
        f = self.conf("discard-old = yes\n")
        args = ["restore", archive, "--config", self.config, "--data", self.data, "--server-version", "10.11.0",
                "--dry-run", "--quiet"]
        # On the command line, the two exclude each other.
        res = self.jb(*args, "--config-file", "none", "--keep-old", "--discard-old", expect=None)
        self.assertFails(res, 2)
        self.jb(*args, "--config-file", f, "--keep-old")

    def test_config_file_none_reads_no_file(self):
        broken = self.conf("this is not a config file\n", name="broken.conf")
        env = {**self.env, "JELLYFIN_BACKUP_CONFIG": str(broken)}
        self.jb("create", "--config-file", "none", "--config", self.config, "--data", self.data,
                "--output", self.out, "--server-version", "10.11.0", "--quiet", env=env)
        self.one_archive(self.out)
        self.jb("list", "--config-file", "none", self.out, "--quiet", env=env)
        # Without it, the broken file named by the variable is read.
        res = self.jb("list", self.out, env=env, expect=None)
        self.assertFails(res, 2, f"{broken}:1")

    def test_yes_and_no(self):
        f = self.trees_conf("[create]\ninclude-logs = no\n")
        self.jb("create", "--config-file", f, "--quiet")
        d, names = self.backup_dir(3)
        f = self.conf(f"output = {d}\nkeep-last = 1\nkeep-version-change = no\n", name="p.conf")
        j = self.jb("prune", "--config-file", f, "--json", "--dry-run").json()
        self.assertIs(j["policy"]["keep_version_change"], False)
        f = self.conf(f"output = {d}\nkeep-version-change = yes\n", name="q.conf")
        j = self.jb("prune", "--config-file", f, "--json", "--dry-run").json()
        self.assertIs(j["policy"]["keep_version_change"], True)


class ConfigFileErrors(ConfigFileBase):
    def assertLineError(self, text: str, line: int, *args, command="create"):
        f = self.trees_conf(text)
        lines_before = 7  # what trees_conf writes before `text`
        before = u.snapshot(self.tmp)
        res = self.jb(command, "--config-file", f, *args, expect=None)
        self.assertFails(res, 2, f"{f}:{lines_before + line}")
        self.assertEqual(self.archives(self.out), [])
        self.assertEqual(u.snapshot(self.tmp), before, "a failed run changed something")
        return res

    def test_trees_conf_line_count(self):
        self.assertEqual(self.trees_conf().read_text().count("\n"), 7)

    def test_unknown_key(self):
        self.assertLineError("\nfrobnicate = 1\n", 2)

    def test_unknown_key_also_for_commands_that_would_ignore_it(self):
        self.assertLineError("# x\nkeep-dialy = 3\n", 2, command="list")

    def test_section_that_is_no_command(self):
        self.assertLineError("[foo]\nlevel = 3\n", 1)

    def test_line_without_equals(self):
        self.assertLineError("level 3\n", 1)

    def test_section_key_the_command_does_not_take(self):
        res = self.assertLineError("[create]\nkeep-daily = 3\n", 2)
        self.assertIn("keep-daily", res.stderr)

    def test_bad_yes_no(self):
        self.assertLineError("[create]\n\ninclude-logs = maybe\n", 3)

    def test_bad_yes_no_for_prune(self):
        d, names = self.backup_dir(2)
        f = self.conf(f"output = {d}\nkeep-last = 1\nkeep-version-change = perhaps\n")
        res = self.jb("prune", "--config-file", f, expect=None)
        self.assertFails(res, 2, f"{f}:3")
        self.assertEqual(self.archives(d), names)

    def test_a_bad_value_names_its_line(self):
        f = self.trees_conf("level = 25\n")
        res = self.jb("create", "--config-file", f, expect=None)
        self.assertFails(res, 2, "--level 25", f"{f}:8")
        self.assertEqual(self.archives(self.out), [])

    def test_a_bad_prune_value_names_its_line(self):
        d, names = self.backup_dir(2)
        f = self.conf(f"output = {d}\nkeep-daily = abc\n")
        res = self.jb("prune", "--config-file", f, expect=None)
        self.assertFails(res, 2, "--keep-daily", "'abc'", f"{f}:2")
        self.assertEqual(self.archives(d), names)

    def test_a_value_that_is_no_number_names_its_flag_and_line(self):
        f = self.trees_conf("threads = many\n")
        res = self.jb("create", "--config-file", f, expect=None)
        self.assertFails(res, 2, "--threads: 'many' is not a valid value", f"{f}:8")

    def test_a_bad_value_on_the_command_line_names_no_file(self):
        res = self.jb("create", "--config-file", self.trees_conf(), "--level", "30", expect=None)
        self.assertFails(res, 2, "--level 30")
        self.assertNotIn("set in", res.stderr)

    def test_missing_config_file(self):
        missing = self.tmp / "no-such.conf"
        for command in (["create"], ["list", self.out], ["prune", self.out, "--keep-last", "1"]):
            with self.subTest(command=command[0]):
                res = self.jb(*command, "--config-file", missing, expect=None)
                self.assertFails(res, 2, str(missing))

    def test_writable_by_others_is_refused(self):
        for mode in (0o666, 0o620, 0o602):
            with self.subTest(mode=oct(mode)):
                f = self.trees_conf()
                os.chmod(f, mode)
                res = self.jb("create", "--config-file", f, expect=None)
                self.assertFails(res, 4, str(f))
                self.assertEqual(self.archives(self.out), [])

    def test_owned_by_another_user_is_refused(self):
        if not u.is_root():
            self.skipTest("needs root to give the file to another user")
        f = self.trees_conf()
        os.chown(f, u.NOBODY, u.NOBODY)
        res = self.jb("create", "--config-file", f, expect=None)
        self.assertFails(res, 4, str(f))
        self.assertEqual(self.archives(self.out), [])

    def test_read_only_for_others_is_fine(self):
        f = self.trees_conf()
        os.chmod(f, 0o644)
        self.jb("create", "--config-file", f, "--quiet")
        self.one_archive(self.out)


if __name__ == "__main__":
    unittest.main()
