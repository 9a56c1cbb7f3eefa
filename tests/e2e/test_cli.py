"""Command line surface: --help, --version, unknown commands, the man page in sync (CLI_SPEC top).

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_cli.py
"""

import re
import unittest

import e2e_util as u

COMMAND_FLAGS = {
    "create": ["--data", "--config", "--output", "--server-version", "--level", "--threads",
               "--exclude", "--json", "--quiet", "--help"],
    "verify": ["--json", "--quiet", "--help"],
    "inspect": ["--list", "--json", "--quiet", "--help"],
    "restore": ["--data", "--config", "--only", "--dry-run", "--keep-old", "--discard-old",
                "--server-version", "--force", "--allow-special", "--json", "--quiet", "--help"],
    "recover": ["--data", "--config", "--json", "--quiet", "--help"],
    "where": ["--install", "--root", "--json", "--help"],
    "list": ["--check", "--json", "--quiet", "--config-file", "--help"],
    "prune": ["--keep-last", "--keep-hourly", "--keep-daily", "--keep-weekly", "--keep-monthly",
              "--keep-yearly", "--keep-version-change", "--dry-run", "--json", "--quiet", "--help"],
    "copy": ["--json", "--quiet", "--help"],
}
MAN_PAGE = u.REPO_ROOT / "man" / "jellyfin-backup.1"
FLAG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def roff_to_text(src: str) -> str:
    """Enough of roff to find flags: font escapes out, \\- to -."""
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", src)
    text = text.replace("\\-", "-").replace("\\(en", "-").replace("\\(hy", "-")
    return text


class Help(u.E2ETestCase):
    def test_top_level_help(self):
        res = u.run(["--help"])
        self.assertExit(res, 0)
        for cmd in COMMAND_FLAGS:
            self.assertIn(cmd, res.stdout)
        self.assertIn("--version", res.stdout)

    def test_command_help_lists_flags(self):
        for cmd, flags in COMMAND_FLAGS.items():
            with self.subTest(command=cmd):
                res = u.run([cmd, "--help"])
                self.assertExit(res, 0)
                found = set(FLAG_RE.findall(res.stdout))
                missing = [f for f in flags if f not in found and f != "--help"]
                self.assertEqual(missing, [], f"{cmd} --help does not list {missing}\n{res.stdout}")

    def test_help_needs_no_other_arguments(self):
        # --help wins over missing required flags.
        res = u.run(["create", "--help"])
        self.assertExit(res, 0)
        self.assertEqual(res.err, b"")

    def test_version(self):
        res = u.run(["--version"])
        self.assertExit(res, 0)
        self.assertRegex(res.stdout, r"jellyfin-backup.*\b\d+\.\d+\.\d+")
        self.assertEqual(res.err, b"")


class UsageErrors(u.E2ETestCase):
    def test_unknown_command(self):
        res = u.run(["frobnicate"])
        self.assertFails(res, 2, "frobnicate")

    def test_no_command(self):
        res = u.run([])
        self.assertExit(res, 2)

    def test_unknown_global_flag(self):
        self.assertFails(u.run(["--no-such-flag"]), 2)

    def test_unknown_flag_per_command(self):
        for cmd in COMMAND_FLAGS:
            with self.subTest(command=cmd):
                res = u.run([cmd, "--no-such-flag"])
                self.assertFails(res, 2, "--no-such-flag: no such option", f"jellyfin-backup {cmd} --help")

    def test_flag_errors_in_our_words(self):
        for args, needle in [(["list", "-q"], "-q: no such option"),
                             (["prune", ".", "--keep-last"], "--keep-last needs a value"),
                             (["list", "--json=3"], "'3' is not a valid value"),
                             # Found by structure, not read out of cxxopts's message: a value
                             # holding quotes, or the same word as another argument.
                             (["create", "--level", "it's", "--output", "x"], "--level: 'it's' is not a valid value"),
                             (["create", "--output", "9x", "--level", "9x"], "--level: '9x' is not a valid value"),
                             (["prune", ".", "--keep-daily", "1", "--keep-last"], "--keep-last needs a value")]:
            with self.subTest(args=args):
                res = u.run(args)
                self.assertFails(res, 2, needle)
                self.assertNotIn("\u2018", res.stderr, "no typographic quotes from cxxopts")

    def test_verify_without_archive(self):
        self.assertFails(u.run(["verify"]), 2)

    def test_inspect_without_archive(self):
        self.assertFails(u.run(["inspect"]), 2)


class ManPage(u.E2ETestCase):
    def test_every_help_flag_in_man_page(self):
        if not MAN_PAGE.is_file():
            self.skipTest(f"man page {MAN_PAGE} not written yet")
        man = roff_to_text(MAN_PAGE.read_text(encoding="utf-8", errors="replace"))
        man_flags = set(FLAG_RE.findall(man))
        missing = {}
        for args in [["--help"]] + [[cmd, "--help"] for cmd in COMMAND_FLAGS]:
            res = u.run(args)
            self.assertExit(res, 0)
            for flag in set(FLAG_RE.findall(res.stdout)) - man_flags:
                missing.setdefault(flag, []).append(" ".join(args))
        self.assertEqual(missing, {}, f"flags in --help but not in {MAN_PAGE}")

    def test_man_page_names_commands(self):
        if not MAN_PAGE.is_file():
            self.skipTest(f"man page {MAN_PAGE} not written yet")
        man = roff_to_text(MAN_PAGE.read_text(encoding="utf-8", errors="replace"))
        for cmd in COMMAND_FLAGS:
            self.assertIn(cmd, man)


if __name__ == "__main__":
    unittest.main()
