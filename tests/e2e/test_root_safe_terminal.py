"""No lies on the terminal (issue 11, "Root-safe", point 6).

Entry names, file names in a backup directory and manifest fields are written by whoever made the
archive or can write the directory, not by us. Printed raw, a carriage return and an erase-line
sequence in an entry name fakes verify's "OK" line, a newline in a file name adds a fake row to
`list`, and a manifest `host` of ESC [2J clears the screen. Human output shows every byte outside
printable UTF-8 as an escape (\\r, \\e, \\n, \\xHH, \\u{202e}); --json output stays JSON and carries
the raw value (bytes that are not UTF-8 become U+FFFD there).

Every archive is crafted with Python's tarfile (restore_util.ArchiveBuilder): a valid manifest and
checksums, so that the hostile name or field is all there is to it (or, where a test wants a
failure, one wrong checksum). No race is involved: the attacker only has to write the bytes.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_root_safe_terminal.py
"""

import os
import re
import unittest

import e2e_util as u
import restore_util as r

# The entry name of the issue: once printed, "\r\e[2K" returns to the start of the line and erases
# it, leaving a verify line that says the archive is fine.
FAKE_OK = "data/x\r\x1b[2Kfake.tar.zst: OK: 12 files, 1.0 MiB verified"
FAKE_OK_SHOWN = "data/x\\r\\e[2Kfake.tar.zst: OK: 12 files, 1.0 MiB verified"
CLEAR_SCREEN = "\x1b[2J"
GOOD_NAME = "jellyfin.20261125T031500Z_10.11.0.tar.zst"
# A file in the backup directory whose name carries a whole fake table row of list.
FAKE_ROW_NAME = ("a.tar.zst\n2026-11-26 03:15:00Z  10.11.0        1.0 KiB        3  yes          "
                 "jellyfin.20261126T031500Z_10.11.0.tar.zst")


def raw_controls(data: bytes) -> list[str]:
    """The bytes of `data` a terminal would act on: C0 controls but the line feed, DEL, and the
    C1 controls in their UTF-8 form (U+0080-U+009F)."""
    found = [f"\\x{b:02x}" for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F]
    found += [m.hex() for m in re.findall(rb"\xc2[\x80-\x9f]", data)]
    return found


class TerminalCase(u.E2ETestCase):
    def assertNoRawControls(self, res: u.Result):
        for stream, data in (("stdout", res.out), ("stderr", res.err)):
            bad = raw_controls(data)
            if bad:
                self.fail(f"raw control bytes {bad[:8]} on {stream}\n{res.describe()}")

    def assertLines(self, res: u.Result, needle: str, stream: str = "stdout"):
        """`needle` appears, whole, within one line of `stream`."""
        text = res.stdout if stream == "stdout" else res.stderr
        if not any(needle in line for line in text.splitlines()):
            self.fail(f"{stream} has no line holding {needle!r}\n{res.describe()}")

    def json_of(self, res: u.Result) -> dict:
        try:
            return res.json()
        except ValueError:
            self.fail(f"stdout is not one JSON object\n{res.describe()}")


class EntryNames(TerminalCase):
    """(a) an archive whose entry name would fake an OK line, and fails verification."""

    def setUp(self):
        super().setUp()
        self.archive = self.tmp / "hostile.tar.zst"
        builder = r.ArchiveBuilder().base().file(FAKE_OK, b"not what the checksum says\n")

        def wrong_hash(lines):
            for i, (h, n) in enumerate(lines):
                if n == FAKE_OK:
                    lines[i] = ("0" * 32, n)

        builder.archive(self.archive, checksum_edit=wrong_hash)

    def test_verify_names_the_entry_escaped(self):
        res = u.run(["verify", self.archive, "--config-file", "none"])
        self.assertFails(res, 3, FAKE_OK_SHOWN)
        self.assertNoRawControls(res)
        self.assertNotIn(": OK:", res.stdout, res.describe())
        # The whole report stays on one line: nothing in the name ends it.
        self.assertEqual(len(u.error_lines(res)), 1, res.describe())

    def test_verify_json_carries_the_raw_name(self):
        res = u.run(["verify", self.archive, "--json", "--config-file", "none"])
        self.assertExit(res, 3)
        j = self.json_of(res)
        self.assertFalse(j["ok"])
        self.assertIn(FAKE_OK, [p["path"] for p in j["problems"]], res.describe())
        self.assertIn(FAKE_OK, j["error"])
        # The error line on stderr is for humans: escaped there.
        self.assertIn(FAKE_OK_SHOWN, res.stderr, res.describe())
        self.assertNoRawControls(res)

    def test_inspect_list_shows_the_entry_escaped(self):
        res = u.run(["inspect", self.archive, "--list", "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertLines(res, FAKE_OK_SHOWN)
        self.assertNoRawControls(res)

    def test_restore_refusal_names_the_entry_escaped(self):
        srv = self.mkdir("srv")
        config, data = u.make_basic_trees(srv, seed=6)
        res = u.run(["restore", self.archive, "--config", config, "--data", data,
                     "--server-version", "10.11.0", "--config-file", "none"])
        self.assertExit(res, 3)
        self.assertIn(FAKE_OK_SHOWN, res.stderr, res.describe())
        self.assertNoRawControls(res)


class InvalidUtf8(TerminalCase):
    """(d) names that are not UTF-8: \\xHH for humans, and --json still dumps (U+FFFD)."""

    def setUp(self):
        super().setUp()
        self.archive = self.tmp / "latin1.tar.zst"
        # "Amélie" in Latin-1 (a lone \xe9) and an overlong ESC (\xc0\x9b), as surrogate escapes.
        self.name = "data/Am\udce9lie\udcc0\udc9b[2J.mkv"
        r.ArchiveBuilder().base().file(self.name, b"film\n").archive(self.archive)

    def test_human_output_escapes_each_bad_byte(self):
        res = u.run(["inspect", self.archive, "--list", "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertLines(res, "data/Am\\xe9lie\\xc0\\x9b[2J.mkv")
        self.assertNoRawControls(res)

    def test_json_output_still_parses(self):
        res = u.run(["inspect", self.archive, "--list", "--json", "--config-file", "none"])
        self.assertExit(res, 0)
        paths = [e["path"] for e in self.json_of(res)["entries"]]
        self.assertIn("data/Am\ufffdlie\ufffd\ufffd[2J.mkv", paths, res.describe())


class ManifestFields(TerminalCase):
    """(c) a manifest host of ESC [2J, and other fields the archive's maker chose."""

    def setUp(self):
        super().setUp()
        self.dir = self.mkdir("backups")
        self.archive = self.dir / GOOD_NAME

        def hostile(m):
            m["host"] = CLEAR_SCREEN
            m["excludes"] = ["*.log\n  left out /etc (forged)"]
            m["trees"][1]["source"] = "/srv/jellyfin/data\x1b]0;pwned\x07"
            m["tool"]["version"] = "0.1.0\r"

        r.ArchiveBuilder().base().archive(self.archive, manifest_edit=hostile)

    def test_inspect_escapes_every_field(self):
        res = u.run(["inspect", self.archive, "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertLines(res, "on \\e[2J")
        self.assertLines(res, "*.log\\n  left out /etc (forged)")
        self.assertLines(res, "/srv/jellyfin/data\\e]0;pwned\\a")
        self.assertLines(res, "jellyfin-backup 0.1.0\\r")
        self.assertFalse([l for l in res.stdout.splitlines() if l.startswith("  left out")],
                         res.describe())
        self.assertNoRawControls(res)

    def test_verify_escapes_the_host(self):
        res = u.run(["verify", self.archive, "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertLines(res, "on \\e[2J")
        self.assertNoRawControls(res)

    def test_restore_dry_run_escapes_the_host(self):
        srv = self.mkdir("srv")
        config, data = u.make_basic_trees(srv, seed=7)
        res = u.run(["restore", self.archive, "--dry-run", "--config", config, "--data", data,
                     "--server-version", "10.11.0", "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertLines(res, "on \\e[2J")
        self.assertNoRawControls(res)

    def test_prune_escapes_the_hosts(self):
        other = "jellyfin.20261124T031500Z_10.11.0.tar.zst"
        r.ArchiveBuilder().base().archive(self.dir / other)
        res = u.run(["prune", self.dir, "--keep-last", "5", "--dry-run", "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertLines(res, "\\e[2J")
        self.assertNoRawControls(res)

    def test_json_carries_the_raw_fields(self):
        res = u.run(["inspect", self.archive, "--json", "--config-file", "none"])
        self.assertExit(res, 0)
        m = self.json_of(res)["manifest"]
        self.assertEqual(m["host"], CLEAR_SCREEN)
        self.assertEqual(m["excludes"], ["*.log\n  left out /etc (forged)"])
        res = u.run(["list", self.dir, "--json", "--config-file", "none"])
        self.assertExit(res, 0)
        hosts = [a["manifest"]["host"] for a in self.json_of(res)["archives"]]
        self.assertEqual(hosts, [CLEAR_SCREEN], res.describe())


class BackupDirNames(TerminalCase):
    """(b) a file in the backup directory whose name carries a fake `yes` row."""

    def setUp(self):
        super().setUp()
        self.dir = self.mkdir("backups")
        good = r.ArchiveBuilder().base().archive(self.dir / GOOD_NAME)
        digest = u.tool(["xxh128sum", good]).stdout.split()[0].decode()
        (self.dir / (GOOD_NAME + ".xxh128")).write_text(f"{digest}  {GOOD_NAME}\n")
        # A copy of a real archive (list leaves out what does not open as one), written by the
        # unprivileged user, as the attacker would: the directory is theirs too.
        path = self.dir / FAKE_ROW_NAME
        write = ["sh", "-c", 'cat "$1" > "$2"', "sh", good, path]
        if u.is_root():
            os.chown(self.dir, u.NOBODY, u.NOBODY)
            write = u.SETPRIV + write
        u.tool(write)
        self.assertTrue(path.is_file())

    def test_list_shows_only_the_real_rows(self):
        res = u.run(["list", self.dir, "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertNoRawControls(res)
        lines = res.stdout.splitlines()
        self.assertEqual(len(lines), 4, f"title, columns and one row per archive\n{res.describe()}")
        self.assertIn("2 archives", lines[0], res.describe())
        shown = FAKE_ROW_NAME.replace("\n", "\\n")
        rows = {GOOD_NAME: [l for l in lines[2:] if l.endswith("  " + GOOD_NAME)],
                shown: [l for l in lines[2:] if l.endswith("  " + shown)]}
        for name, found in rows.items():
            self.assertEqual(len(found), 1, f"one row for {name!r}\n{res.describe()}")
        # The VERIFIED column, before the name: only the real archive has a sidecar.
        self.assertIn("  sidecar only  ", rows[GOOD_NAME][0][:-len(GOOD_NAME)], res.describe())
        self.assertIn("  no sidecar  ", rows[shown][0][:-len(shown)], res.describe())
        self.assertFalse([l for l in lines if l.startswith("2026-11-26")],
                         f"the fake row must not start a line\n{res.describe()}")

    def test_list_json_carries_the_raw_name(self):
        res = u.run(["list", self.dir, "--json", "--config-file", "none"])
        self.assertExit(res, 0)
        names = sorted(a["name"] for a in self.json_of(res)["archives"])
        self.assertEqual(names, sorted([GOOD_NAME, FAKE_ROW_NAME]), res.describe())

    def test_prune_shows_the_name_escaped(self):
        res = u.run(["prune", self.dir, "--keep-last", "1", "--dry-run", "--config-file", "none"])
        self.assertExit(res, 0)
        self.assertNoRawControls(res)
        self.assertIn(FAKE_ROW_NAME.replace("\n", "\\n"), res.stdout, res.describe())
        self.assertFalse([l for l in res.stdout.splitlines() if l.startswith("2026-11-26")],
                         res.describe())


class ErrorLines(TerminalCase):
    """A path the user gave, or the disk holds, in an error or warning: one escaped line."""

    def test_missing_archive_named_with_controls(self):
        name = self.tmp / "gone\r\x1b[2Kfake.tar.zst: OK"
        res = u.run(["verify", name, "--config-file", "none"])
        self.assertNotEqual(res.code, 0, res.describe())
        self.assertErrorShape(res, "gone\\r\\e[2Kfake.tar.zst: OK")
        self.assertNoRawControls(res)

    def test_json_error_object_carries_the_raw_path(self):
        name = str(self.tmp / "gone\x1b[2J.tar.zst")
        res = u.run(["verify", name, "--json", "--config-file", "none"])
        self.assertNotEqual(res.code, 0, res.describe())
        self.assertIn(name, self.json_of(res)["error"], res.describe())
        self.assertNoRawControls(res)


if __name__ == "__main__":
    unittest.main()
