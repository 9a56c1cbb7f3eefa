"""What is known of an archive's bytes (issue 12, point 4): `list` says "checked <date>" only for an
archive a full check (verify, copy) read every byte of, "sidecar only" for one merely written, CHANGED
for one modified since its check (a flipped byte with its mtime put back included), DAMAGED for one
a check found damaged; `prune` never lets a known-damaged archive fill a keep slot; `verify DIR`
checks every archive of a backup directory, one line each, exit 3 when any is damaged. The check
record lives in its own file "<archive>.checked", so `xxh128sum -c ARCHIVE.xxh128` stays clean.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_check_records.py
"""

import json
import unittest
from pathlib import Path

import e2e_util as u


class CheckRecords(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.tmp / "src")
        u.write_random_file(self.data / "random.bin", 300_000)
        self.out = self.mkdir("backups")
        self.old = self.make("jellyfin.20261201T031500Z_10.11.0.tar.zst")
        self.new = self.make("jellyfin.20261202T031500Z_10.11.0.tar.zst")

    def make(self, name: str) -> Path:
        self.create(self.config, self.data, self.out / name, "--server-version", "10.11.0")
        return self.out / name

    def listing(self) -> dict:
        res = u.run(["list", self.out, "--json"])
        self.assertExit(res, 0)
        return {a["name"]: a for a in res.json()["archives"]}

    def row(self, name: str) -> str:
        res = u.run(["list", self.out])
        self.assertExit(res, 0)
        rows = [l for l in res.stdout.splitlines() if l.endswith(name)]
        self.assertEqual(len(rows), 1, res.describe())
        return rows[0]

    def test_a_created_archive_is_not_called_checked(self):
        a = self.listing()[self.new.name]
        self.assertIs(a["verified"], False)
        self.assertEqual(a["check"], "never")
        self.assertIn(" sidecar only ", self.row(self.new.name))
        self.assertNotIn(" yes ", self.row(self.new.name))

    def test_verify_records_the_check_and_list_shows_its_date(self):
        res = u.run(["verify", self.new, "--json"])
        self.assertExit(res, 0)
        self.assertEqual(res.json()["check_record"], str(self.new) + ".checked")
        a = self.listing()[self.new.name]
        self.assertIs(a["verified"], True)
        self.assertEqual(a["check"], "checked")
        self.assertRegex(a["checked"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn(" checked " + a["checked"][:10] + " ", self.row(self.new.name))
        # The sidecar stays one xxh128sum line: -c is clean, not a warning.
        res = u.tool(["xxh128sum", "-c", self.new.name + ".xxh128"], cwd=self.out, check=False)
        self.assertEqual(res.returncode, 0)
        self.assertEqual(res.stderr, b"", "xxh128sum warns about nothing")
        record = json.loads((self.out / (self.new.name + ".checked")).read_text())
        self.assertEqual(record["result"], "ok")

    def test_a_flipped_byte_with_its_mtime_kept_is_no_longer_checked(self):
        self.assertExit(u.run(["verify", self.new, "--quiet"]), 0)
        u.flip_keeping_mtime(self.new)
        a = self.listing()[self.new.name]
        self.assertIs(a["verified"], False, a)
        self.assertEqual(a["check"], "changed")
        self.assertIn(" CHANGED ", self.row(self.new.name))

    def test_verify_dir_names_each_damaged_archive_and_exits_3(self):
        u.flip_keeping_mtime(self.new)
        res = u.run(["verify", self.out])
        self.assertExit(res, 3)
        lines = res.stdout.splitlines()
        damaged = [l for l in lines if l.startswith("DAMAGED") and self.new.name in l]
        ok = [l for l in lines if l.startswith("OK") and self.old.name in l]
        self.assertEqual((len(damaged), len(ok)), (1, 1), res.describe())
        self.assertIn(self.new.name, "\n".join(u.error_lines(res)))
        # The finding is recorded: list and prune know it without reading the archive.
        a = self.listing()[self.new.name]
        self.assertIs(a["damaged"], True)
        self.assertIn(" DAMAGED ", self.row(self.new.name))
        self.assertTrue(self.listing()[self.old.name]["verified"])

    def test_verify_dir_json_lists_every_archive(self):
        u.flip_keeping_mtime(self.new)
        res = u.run(["verify", self.out, "--json"])
        self.assertExit(res, 3)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j["exit_code"], 3)
        got = {a["name"]: a for a in j["archives"]}
        self.assertEqual(set(got), {self.old.name, self.new.name})
        self.assertIs(got[self.old.name]["ok"], True)
        self.assertIs(got[self.new.name]["ok"], False)
        self.assertTrue(got[self.new.name]["problem"])

    def test_verify_dir_of_intact_archives_exits_0(self):
        res = u.run(["verify", self.out])
        self.assertExit(res, 0)
        self.assertEqual(len([l for l in res.stdout.splitlines() if l.startswith("OK")]), 2, res.describe())

    def test_a_damaged_newest_archive_fills_no_keep_slot(self):
        u.flip_keeping_mtime(self.new)
        self.assertExit(u.run(["verify", self.out, "--quiet"]), 3)
        res = u.run(["prune", self.out, "--keep-last", "1", "--json"])
        self.assertExit(res, 0)
        j = res.json()
        self.assertEqual([a["name"] for a in j["keep"]], [self.old.name], "the good one fills the slot")
        self.assertEqual([a["name"] for a in j["damaged"]], [self.new.name])
        self.assertEqual(j["remove"], [])
        self.assertTrue(self.old.exists() and self.new.exists(), "a damaged archive is left for a person")

    def test_prune_takes_the_check_record_along(self):
        self.assertExit(u.run(["verify", self.out, "--quiet"]), 0)
        res = u.run(["prune", self.out, "--keep-last", "1"])
        self.assertExit(res, 0)
        self.assertEqual(sorted(u.list_dir(self.out)),
                         sorted([self.new.name, self.new.name + ".xxh128", self.new.name + ".checked"]))



class DamageNamesTheFile(u.E2ETestCase):
    """Issue 12, point 7: a damage report names the damaged entries and says whether the config and
    the databases are intact."""

    def archive_with_big_file_in(self, tree: str) -> Path:
        config, data = u.make_basic_trees(self.tmp / "src")
        u.write_random_file((config if tree == "config" else data) / "big.bin", 400_000)
        out = self.tmp / "a.tar.zst"
        self.create(config, data, out, "--server-version", "10.11.0")
        u.flip_keeping_mtime(out)  # the middle of the archive: inside big.bin (random data is stored raw)
        return out

    def test_damaged_media_leaves_config_and_databases_intact(self):
        archive = self.archive_with_big_file_in("data")
        res = u.run(["verify", archive])
        self.assertExit(res, 3)
        line = u.error_lines(res)[0]
        self.assertIn("data/big.bin", line)
        self.assertIn("the config and the databases are intact", line)
        root = self.mkdir("restore")
        res = u.run(["restore", archive, "--data", root / "data", "--config", root / "config"])
        self.assertExit(res, 3)
        self.assertIn("data/big.bin", u.error_lines(res)[0])

    def test_damaged_config_says_so(self):
        archive = self.archive_with_big_file_in("config")
        res = u.run(["verify", archive])
        self.assertExit(res, 3)
        line = u.error_lines(res)[0]
        self.assertIn("config/big.bin", line)
        self.assertIn("DAMAGED: the config", line)


if __name__ == "__main__":
    unittest.main()
