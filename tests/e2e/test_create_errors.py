"""create: failures leave nothing behind, usage errors exit 2, output is never overwritten
(CLI_SPEC "create", exit codes, --json/--quiet).

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_create_errors.py
"""

import json
import os
import pty
import re
import signal
import socket
import stat
import subprocess
import time
import unittest
from pathlib import Path

import e2e_util as u

TEMP_RE = re.compile(r"^\.(.+)\.tmp-[A-Za-z0-9_]{6,}$")


class CreateBase(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.mkdir("src"))
        self.out = self.mkdir("out")


class SourceAndOutputErrors(CreateBase):
    def test_unreadable_source_file(self):
        secret = self.data / "sub" / "unreadable.bin"
        u.write_file(secret, b"you cannot read me\n" * 100)
        if u.is_root():
            # root reads everything: run as nobody, who can read all but this one file.
            u.give_to_nobody(self.tmp / "src")
            u.give_to_nobody(self.out)
        os.chmod(secret, 0o000)
        res = self.create(self.config, self.data, self.out, expect=None, drop_privs=True, cwd=self.tmp)
        self.assertFails(res, 1, "sub/unreadable.bin")
        self.assertEqual(u.list_dir(self.out), [], "archive or temp file left in the output dir")

    def test_unreadable_source_file_explicit_output_path(self):
        secret = self.data / "unreadable.bin"
        u.write_file(secret, b"x" * 10)
        if u.is_root():
            u.give_to_nobody(self.tmp / "src")
            u.give_to_nobody(self.out)
        os.chmod(secret, 0o000)
        res = self.create(self.config, self.data, self.out / "a.tar.zst", expect=None,
                          drop_privs=True, cwd=self.tmp)
        self.assertFails(res, 1, "unreadable.bin")
        self.assertEqual(u.list_dir(self.out), [])

    def test_output_dir_missing(self):
        missing = self.tmp / "no-such-dir"
        res = self.create(self.config, self.data, missing / "a.tar.zst", expect=None)
        self.assertFails(res, 1, str(missing))
        self.assertFalse(missing.exists())

    def test_output_dir_missing_is_made_when_its_parent_exists(self):
        # The shipped config's `output = /var/backups/jellyfin` on a first run: a directory,
        # made private (0700), with the archive inside under a name list and prune see.
        for spelling in ("made", "made-slash/"):
            with self.subTest(output=spelling):
                missing = self.tmp / spelling.rstrip("/")
                res = self.create(self.config, self.data, str(self.tmp / spelling), expect=0)
                self.assertTrue(missing.is_dir(), res.describe())
                self.assertEqual(oct(stat.S_IMODE(missing.stat().st_mode)), oct(0o700))
                names = [n for n in u.list_dir(missing) if not n.endswith(".xxh128")]
                self.assertEqual(len(names), 1, names)
                self.assertRegex(names[0], u.ARCHIVE_NAME_RE)
                self.assertNotIn("warning", res.stderr)
                listed = u.run(["list", missing, "--json"])
                self.assertExit(listed, 0)
                self.assertEqual([a["name"] for a in listed.json()["archives"]], names)

    def test_output_dir_and_its_parent_missing(self):
        missing = self.tmp / "no-such-parent" / "jellyfin"
        for spelling in (str(missing), str(missing) + "/"):
            with self.subTest(output=spelling):
                res = self.create(self.config, self.data, spelling, expect=None)
                self.assertFails(res, 1, str(missing.parent))
                self.assertFalse(missing.parent.exists())

    def test_output_that_is_a_file_but_not_an_archive_name(self):
        # `--output backup` where a file `backup` already is: never written into or over.
        taken = self.tmp / "backup"
        taken.write_text("mine")
        res = self.create(self.config, self.data, taken, expect=None)
        self.assertFails(res, 1, str(taken))
        self.assertEqual(taken.read_text(), "mine")

    def test_data_dir_missing(self):
        missing = self.tmp / "no-data"
        res = self.create(self.config, missing, self.out, expect=None)
        self.assertFails(res, 2, str(missing))
        self.assertEqual(u.list_dir(self.out), [])

    def test_config_dir_missing(self):
        missing = self.tmp / "no-config"
        res = self.create(missing, self.data, self.out, expect=None)
        self.assertFails(res, 2, str(missing))
        self.assertEqual(u.list_dir(self.out), [])

    def test_data_is_a_file(self):
        f = u.write_file(self.tmp / "plain-file", b"x")
        res = self.create(self.config, f, self.out, expect=None)
        self.assertFails(res, 2, str(f))

    def test_same_dir(self):
        res = self.create(self.data, self.data, self.out, expect=None)
        self.assertExit(res, 2)
        self.assertErrorShape(res)

    def test_same_dir_spelled_differently(self):
        res = self.create(str(self.data) + "/.", str(self.data) + "/", self.out, expect=None)
        self.assertExit(res, 2)
        self.assertErrorShape(res)

    def test_same_dir_via_symlinked_path(self):
        alias = self.tmp / "data-alias"
        os.symlink(self.data, alias)
        res = self.create(alias, self.data, self.out, expect=None)
        self.assertExit(res, 2)
        self.assertErrorShape(res)
        self.assertEqual(u.list_dir(self.out), [])

    def test_config_holds_data_marker(self):
        # Jellyfin's markers say the directories are swapped: its config dir as --data and the
        # other way round. The server would not start with them; create refuses.
        res = self.create(self.data, self.config, self.out, expect=None)
        self.assertFails(res, 2, "swapped")
        self.assertEqual(u.list_dir(self.out), [])


class NestedTrees(CreateBase):
    """A tree inside the other (config in data as in the official Docker image, data in config as
    linuxserver/hotio) is accepted and stored once, under its own top-level archive directory; the
    manifest says where it sits. Only the same directory for both is refused (above)."""

    def manifest_of(self, archive) -> dict:
        res = u.run(["inspect", "--json", archive])
        self.assertExit(res, 0)
        return res.json()["manifest"]

    def assertStoredOnce(self, archive, outer: str, rel: str, inner_files: dict[str, bytes]):
        """`inner_files` (name -> content) are in the archive under the inner tree only, never
        under <outer>/<rel>/; the manifest's inner tree says it sits at `rel` in `outer`."""
        inner = "config" if outer == "data" else "data"
        names = u.archive_names(archive)
        self.assertEqual([n for n in names if n == f"{outer}/{rel}" or
                          n.startswith(f"{outer}/{rel}/")], [],
                         f"the {inner} tree is stored a second time inside {outer}/")
        self.assertIn(inner, names)
        tar = u.zstd_decompress(Path(archive).read_bytes())
        for name, content in inner_files.items():
            self.assertEqual(u.read_member(tar, f"{inner}/{name}"), content)
        trees = {t["name"]: t for t in self.manifest_of(archive)["trees"]}
        self.assertEqual(trees[inner].get("inside"), {"tree": outer, "path": rel})
        self.assertIsNone(trees[outer].get("inside"))
        self.assertExit(u.run(["verify", "--quiet", archive]), 0)

    def test_config_inside_data(self):
        inner = self.data / "config"
        inner.mkdir()
        u.write_file(inner / "system.xml", b"<x/>")
        self.create(inner, self.data, self.out / "a.tar.zst", "--quiet")
        self.assertEqual(u.list_dir(self.out), ["a.tar.zst", "a.tar.zst.xxh128"])
        self.assertStoredOnce(self.out / "a.tar.zst", "data", "config", {"system.xml": b"<x/>"})
        # The rest of the data tree is all there.
        ext = self.extract_with_tar(self.out / "a.tar.zst")
        self.assertEqual(u.compare_trees(self.data, ext / "data", skip_paths=["config"]), [])
        self.assertEqual(u.compare_trees(inner, ext / "config"), [])

    def test_data_inside_config(self):
        inner = self.config / "data"
        inner.mkdir()
        u.write_file(inner / "jellyfin.db", b"SQLite format 3\x00inner")
        self.create(self.config, inner, self.out / "a.tar.zst", "--quiet")
        self.assertEqual(u.list_dir(self.out), ["a.tar.zst", "a.tar.zst.xxh128"])
        self.assertStoredOnce(self.out / "a.tar.zst", "config", "data",
                              {"jellyfin.db": b"SQLite format 3\x00inner"})
        ext = self.extract_with_tar(self.out / "a.tar.zst")
        self.assertEqual(u.compare_trees(self.config, ext / "config", skip_paths=["data"]), [])
        self.assertEqual(u.compare_trees(inner, ext / "data"), [])

    def test_nested_via_symlinked_path(self):
        # --config names data/cfg through a symlink: still found to be inside data, stored once.
        inner = self.data / "cfg"
        inner.mkdir()
        u.write_file(inner / "system.xml", b"<y/>")
        alias = self.tmp / "config-alias"
        os.symlink(inner, alias)
        self.create(alias, self.data, self.out / "a.tar.zst", "--quiet")
        self.assertStoredOnce(self.out / "a.tar.zst", "data", "cfg", {"system.xml": b"<y/>"})
        trees = {t["name"]: t for t in self.manifest_of(self.out / "a.tar.zst")["trees"]}
        self.assertEqual(trees["config"]["source"], os.path.realpath(inner))


class NeverOverwrite(CreateBase):
    def test_existing_output_file_untouched(self):
        target = u.write_file(self.out / "a.tar.zst", b"precious\n")
        res = self.create(self.config, self.data, target, expect=None)
        self.assertFails(res, 1, "a.tar.zst")
        self.assertEqual(target.read_bytes(), b"precious\n")
        self.assertEqual(u.list_dir(self.out), ["a.tar.zst"], "temp file left behind")

    def test_planted_symlink_at_output_path(self):
        victim = u.write_file(self.tmp / "victim", b"victim content\n")
        link = self.out / "a.tar.zst"
        os.symlink(victim, link)
        res = self.create(self.config, self.data, link, expect=None)
        self.assertIn(res.code, (1, 4), res.describe())
        self.assertErrorShape(res)
        self.assertEqual(victim.read_bytes(), b"victim content\n")
        self.assertTrue(link.is_symlink())
        self.assertEqual(os.readlink(link), str(victim))
        self.assertEqual(u.list_dir(self.out), ["a.tar.zst"], "temp file left behind")

    def test_planted_dangling_symlink_at_output_path(self):
        victim = self.tmp / "victim-not-yet"
        link = self.out / "a.tar.zst"
        os.symlink(victim, link)
        res = self.create(self.config, self.data, link, expect=None)
        self.assertIn(res.code, (1, 4), res.describe())
        self.assertErrorShape(res)
        self.assertFalse(victim.exists(), "archive written through a planted symlink")
        self.assertEqual(u.list_dir(self.out), ["a.tar.zst"])


class Interrupted(u.E2ETestCase):
    """A signal mid-create: exit 128 + the signal (130, 143) as shells do, no archive, no temp file."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("sig")
        cls.config, cls.data = u.make_basic_trees(cls.shared / "src")
        # Incompressible and at a slowish level (about 3 s on one thread), so the run lasts long
        # enough to be interrupted. (At --level 19 the tool takes ~25 s to react to a signal.)
        u.write_random_file(cls.data / "big.bin", 160 << 20)

    def interrupt(self, sig, output_is_dir=True):
        out = self.mkdir("out")
        output = out if output_is_dir else out / "a.tar.zst"
        proc = u.popen(["create", "--config", self.config, "--data", self.data, "--output", output,
                        "--level", "9", "--threads", "1"])
        temp_seen = None
        deadline = time.time() + 10
        try:
            while time.time() < deadline and proc.poll() is None:
                names = [n for n in os.listdir(out) if TEMP_RE.match(n)]
                if names:
                    temp_seen = names[0]
                    temp_mode = stat.S_IMODE(os.lstat(out / temp_seen).st_mode)
                    break
                time.sleep(0.02)
            time.sleep(0.3)
            self.assertIsNone(proc.poll(), "create finished before it could be interrupted")
            proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        res = u.Result(proc.args, proc.returncode, stdout, stderr)
        self.assertFails(res, 128 + sig)
        self.assertEqual(u.list_dir(out), [], "archive or temp file left after the signal")
        self.assertIsNotNone(temp_seen, "no hidden temp file '.<name>.tmp-XXXXXX' in the output dir "
                                        "while create was running")
        self.assertEqual(temp_mode, 0o600, f"temp file {temp_seen} mode {oct(temp_mode)}")
        final = TEMP_RE.match(temp_seen).group(1)
        if output_is_dir:
            self.assertRegex(final, u.ARCHIVE_NAME_RE)
        else:
            self.assertEqual(final, "a.tar.zst")

    def test_sigterm(self):
        self.interrupt(signal.SIGTERM)

    def test_sigint(self):
        self.interrupt(signal.SIGINT)

    def test_sigterm_explicit_output_file(self):
        self.interrupt(signal.SIGTERM, output_is_dir=False)


class UsageErrors(CreateBase):
    def check_usage(self, args):
        res = u.run(args)
        self.assertExit(res, 2)
        self.assertErrorShape(res)
        self.assertEqual(u.list_dir(self.out), [])

    def test_bad_level(self):
        for level in ("99", "0", "20", "-1", "abc", "3x", ""):
            with self.subTest(level=level):
                self.check_usage(["create", "--config", self.config, "--data", self.data,
                                  "--output", self.out, "--level", level])

    def test_bad_threads(self):
        for threads in ("abc", "-1"):
            with self.subTest(threads=threads):
                self.check_usage(["create", "--config", self.config, "--data", self.data,
                                  "--output", self.out, "--threads", threads])

    def test_unknown_flag(self):
        self.check_usage(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                          "--no-such-flag"])

    def test_missing_output(self):
        self.check_usage(["create", "--config", self.config, "--data", self.data])

    def test_missing_data(self):
        self.check_usage(["create", "--config", self.config, "--output", self.out])

    def test_missing_config(self):
        self.check_usage(["create", "--data", self.data, "--output", self.out])

    def test_flag_without_value(self):
        self.check_usage(["create", "--config", self.config, "--data", self.data, "--output"])

    def test_stray_positional_argument(self):
        self.check_usage(["create", "--config", self.config, "--data", self.data, "--output", self.out,
                          "extra"])

    def test_stdout_terminal_refused(self):
        master, slave = pty.openpty()
        try:
            res = u.run(["create", "--config", self.config, "--data", self.data, "--output", "-"],
                        stdout=slave)
        finally:
            os.close(slave)
            os.set_blocking(master, False)
            try:
                leaked = os.read(master, 65536)
            except OSError:
                leaked = b""
            os.close(master)
        self.assertExit(res, 2)
        self.assertErrorShape(res)
        self.assertNotIn(b"\x28\xb5\x2f\xfd", leaked, "archive bytes were written to the terminal")

    def test_usage_error_json(self):
        res = u.run(["create", "--config", self.config, "--data", self.tmp / "nope", "--output",
                     self.out, "--json"])
        self.assertExit(res, 2)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j["exit_code"], 2)
        self.assertIsInstance(j["error"], str)
        self.assertIn("nope", j["error"])

    def test_runtime_error_json(self):
        target = u.write_file(self.out / "a.tar.zst", b"precious\n")
        res = u.run(["create", "--config", self.config, "--data", self.data, "--output", target,
                     "--json"])
        self.assertExit(res, 1)
        j = res.json()
        self.assertEqual((j["ok"], j["exit_code"]), (False, 1))
        self.assertIsInstance(j["error"], str)


class OutputStreams(CreateBase):
    def test_socket_skipped_with_warning(self):
        sock_path = self.data / "jf.sock"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(str(sock_path))
            res = self.create(self.config, self.data, self.out / "a.tar.zst")
        finally:
            s.close()
        warnings = u.warning_lines(res)
        self.assertTrue(any("jf.sock" in w for w in warnings),
                        f"no 'jellyfin-backup: warning: ...jf.sock...' on stderr\n{res.describe()}")
        self.assertExit(u.run(["verify", "--quiet", self.out / "a.tar.zst"]), 0)
        names = u.tool(["tar", "--zstd", "-tf", self.out / "a.tar.zst"]).stdout.splitlines()
        self.assertNotIn(b"data/jf.sock", names)

    def test_socket_warning_in_json(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(str(self.data / "jf.sock"))
            res = self.create(self.config, self.data, self.out / "a.tar.zst", "--json")
        finally:
            s.close()
        j = res.json()
        self.assertTrue(any("jf.sock" in w for w in j["warnings"]), j)

    def test_json(self):
        archive = self.out / "a.tar.zst"
        res = self.create(self.config, self.data, archive, "--json")
        j = res.json()
        for key in ("command", "ok", "path", "bytes_in", "bytes_out", "files", "entries", "seconds",
                    "version", "warnings"):
            self.assertIn(key, j)
        self.assertEqual(j["command"], "create")
        self.assertIs(j["ok"], True)
        self.assertEqual(j["path"], str(archive))
        self.assertEqual(j["bytes_out"], archive.stat().st_size)
        files = sum(1 for r in (self.config, self.data) for e in u.snapshot(r).values() if e.kind == "file")
        self.assertEqual(j["files"], files)
        members = u.tar_members(u.zstd_decompress(archive.read_bytes()))
        self.assertIn(j["entries"], (len(members), len(members) - 2))
        self.assertIsInstance(j["bytes_in"], int)
        self.assertGreater(j["bytes_in"], 0)
        self.assertIsInstance(j["seconds"], (int, float))
        self.assertGreaterEqual(j["seconds"], 0)
        self.assertIsNone(j["version"])
        self.assertEqual(j["warnings"], [])

    def test_json_with_version_and_output_dir(self):
        res = self.create(self.config, self.data, self.out, "--json", "--server-version", "10.11.0")
        j = res.json()
        self.assertEqual(j["version"], "10.11.0")
        self.assertEqual(Path(j["path"]).parent, self.out)
        self.assertEqual(u.list_dir(self.out), [Path(j["path"]).name, Path(j["path"]).name + ".xxh128"])

    def test_quiet_prints_nothing(self):
        res = self.create(self.config, self.data, self.out, "--quiet")
        self.assertEqual((res.out, res.err), (b"", b""))
        self.assertEqual(len(u.list_dir(self.out)), 2, "the archive and its sidecar")

    def test_quiet_with_tty_stderr_prints_nothing(self):
        # Progress goes to a terminal stderr, but never with --quiet.
        master, slave = pty.openpty()
        try:
            proc = subprocess.run(u.command(["create", "--config", self.config, "--data", self.data,
                                             "--output", self.out, "--quiet"]),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                  timeout=u.DEFAULT_TIMEOUT)
        finally:
            os.close(slave)
            os.set_blocking(master, False)
            try:
                shown = os.read(master, 65536)
            except OSError:
                shown = b""
            os.close(master)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual((proc.stdout, shown), (b"", b""))

    def test_no_progress_when_stderr_is_not_a_tty(self):
        res = self.create(self.config, self.data, self.out)
        self.assertEqual(res.err, b"", "stderr is a pipe: no progress expected")
        self.assertTrue(res.stdout.startswith("Created "), res.describe())


if __name__ == "__main__":
    unittest.main()
