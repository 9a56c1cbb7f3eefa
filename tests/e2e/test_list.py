"""list [DIR] [--check] [--json] [--quiet]: the archives of a backup directory, newest first.

An archive's time and Jellyfin version come from the name create generates
("jellyfin.<YYYYMMDDTHHMMSSZ>_<version>.tar.zst"), else from its manifest; so archives "of different
times" are made here by copying the bytes of one real archive under different generated names, each
with its own sidecar "<name>.xxh128" (one xxh128sum line). The sidecar says whether the archive was
written whole: "matches", "missing", "stale" (older than the archive), "invalid" (not one
line naming the archive), and with --check, which hashes every archive, "mismatch". Only a check
record "<name>.checked" that binds to the file as it is (written by verify and copy) makes it
"verified" (issue 12, point 4: see ListCheckRecords).

list reads only the start of each archive (its manifest) and takes no lock.

Run: JB_BIN=build-e2e/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_list.py
"""

import calendar
import json
import os
import re
import time
import unittest
from datetime import datetime, timezone
from pathlib import Path

import e2e_util as u

COLUMNS = ["CREATED", "JELLYFIN", "SIZE", "FILES", "VERIFIED", "NAME"]
VERIFIED_TEXT = {"matches": "sidecar only", "missing": "no sidecar", "stale": "stale sidecar", "invalid": "bad sidecar",
                 "mismatch": "MISMATCH"}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def gen_name(dt: datetime, version: str) -> str:
    """The name create gives an archive made at `dt` of Jellyfin `version`."""
    return f"jellyfin.{dt.strftime('%Y%m%dT%H%M%SZ')}_{version}.tar.zst"


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_to_unix(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def xxh128(path) -> str:
    return u.tool(["xxh128sum", path]).stdout.split()[0].decode()


def make_archive(work: Path, *, big: int = 0) -> tuple[Path, dict]:
    """One real archive made by create into work/out (server version 10.11.0), and its manifest."""
    config, data = u.make_basic_trees(work / "src")
    if big:
        u.write_random_file(data / "big.bin", big)
    out = work / "out"
    out.mkdir()
    res = u.run(["create", "--config", config, "--data", data, "--output", out,
                 "--server-version", "10.11.0", "--quiet", "--config-file", "none"], timeout=120)
    if res.code != 0:
        raise RuntimeError("create failed; the list tests need an archive\n" + res.describe())
    names = [n for n in os.listdir(out) if n.endswith(".tar.zst")]
    if len(names) != 1 or not u.ARCHIVE_NAME_RE.match(names[0]):
        raise RuntimeError(f"create --output DIR wrote {sorted(os.listdir(out))}, not one generated name")
    archive = out / names[0]
    manifest = json.loads(u.read_member(u.zstd_decompress(archive.read_bytes()), "MANIFEST.json"))
    return archive, manifest


class ListBase(u.E2ETestCase):
    """One archive made once per class; tests place copies of its bytes under other names."""

    big = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("list")
        cls.archive, cls.manifest = make_archive(cls.shared, big=cls.big)
        cls.blob = cls.archive.read_bytes()
        cls.hash = xxh128(cls.archive)
        cls.files = sum(t["files"] for t in cls.manifest["trees"])
        cls.bytes = sum(t["bytes"] for t in cls.manifest["trees"])

    def setUp(self):
        super().setUp()
        self.dir = self.mkdir("backups")
        self.t0 = time.time() - 1000

    def place(self, name: str, *, sidecar: str = "good", blob: bytes | None = None) -> Path:
        """Writes an archive named `name` into self.dir and its sidecar: good (a correct line),
        none, garbage, wronghash (well-formed, wrong hash), othername (names another archive),
        twolines. The sidecar is written after the archive (its mtime is not older)."""
        path = self.dir / name
        path.write_bytes(self.blob if blob is None else blob)
        os.utime(path, (self.t0, self.t0))
        digest = self.hash if blob is None else u.tool(["xxh128sum", path]).stdout.split()[0].decode()
        text = {
            "good": f"{digest}  {name}\n",
            "none": None,
            "garbage": "this is not a checksum line\n",
            "wronghash": f"{'0' * 32}  {name}\n",
            "othername": f"{digest}  jellyfin.20200101T000000Z_10.0.0.tar.zst\n",
            "twolines": f"{digest}  {name}\n{digest}  {name}\n",
        }[sidecar]
        if text is not None:
            side = self.dir / (name + ".xxh128")
            side.write_text(text)
            os.utime(side, (self.t0 + 10, self.t0 + 10))
        return path

    def ls(self, *args, expect: int | None = 0, **kw) -> u.Result:
        res = u.run(["list", *args, "--config-file", "none"], **kw)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def list_json(self, *args, expect: int | None = 0, **kw) -> dict:
        res = self.ls(self.dir, "--json", *args, expect=expect, **kw)
        try:
            j = res.json()
        except ValueError:
            self.fail(f"stdout is not one JSON object\n{res.describe()}")
        self.assertEqual(j["command"], "list")
        self.assertEqual(j["location"], str(self.dir))
        self.assertIsInstance(j["warnings"], list)
        return j

    def by_name(self, j: dict) -> dict:
        return {a["name"]: a for a in j["archives"]}

    def assertGoodArchive(self, a: dict, name: str, created: str, version: str, sidecar: str = "matches"):
        self.assertEqual(a["name"], name)
        self.assertEqual(a["path"], str(self.dir / name))
        self.assertEqual(a["created"], created, a)
        self.assertEqual(a["time"], iso_to_unix(created), a)
        self.assertEqual(a["version"], version, a)
        self.assertEqual(a["size"], len(self.blob), a)
        self.assertEqual(a["files"], self.files, a)
        self.assertEqual(a["bytes"], self.bytes, a)
        self.assertEqual(a["sidecar"], sidecar, a)
        # Only a full check (verify, copy) makes it "verified"; a sidecar does not.
        self.assertIs(a["verified"], False, a)
        self.assertEqual(a["check"], "never", a)
        self.assertIsNone(a["error"], a)
        self.assertEqual(a["manifest"], self.manifest)

    def table_rows(self, res: u.Result, names: list[str]) -> list[str]:
        """The table rows of `names`, in output order; checks the header line and column line."""
        lines = res.stdout.splitlines()
        header = [i for i, l in enumerate(lines) if re.search(r"\s+".join(COLUMNS), l)]
        self.assertEqual(len(header), 1, f"one column line {COLUMNS}\n{res.describe()}")
        self.assertGreater(header[0], 0, f"a header line comes before the table\n{res.describe()}")
        self.assertTrue(lines[0].strip(), res.describe())
        rows = {}
        for l in lines[header[0] + 1:]:
            parts = l.split()
            if parts and parts[-1] in names:
                self.assertNotIn(parts[-1], rows, f"{parts[-1]} listed twice\n{res.describe()}")
                rows[parts[-1]] = l
        self.assertEqual(set(rows), set(names), res.describe())
        order = [l.split()[-1] for l in lines if l.split() and l.split()[-1] in names]
        self.assertEqual(order, names, f"rows not newest first\n{res.describe()}")
        return [rows[n] for n in names]


class ListBasics(ListBase):
    def test_empty_directory(self):
        res = self.ls(self.dir)
        self.assertEqual(res.stdout.strip(), f"No archives in {self.dir}.", res.describe())
        self.assertEqual(u.error_lines(res), [])
        j = self.list_json()
        self.assertIs(j["ok"], True)
        self.assertEqual(j["archives"], [])

    def test_newest_first_with_times_and_versions_from_the_names(self):
        # Placed in an order that is neither by time nor by name.
        placed = [
            (utc(2025, 1, 1, 0, 0, 0), "10.10.7"),
            (utc(2026, 11, 25, 3, 15, 0), "10.11.0"),
            (utc(2024, 6, 30, 23, 59, 59), "10.9.11"),
            (utc(2025, 12, 31, 12, 0, 1), "10.11.1"),
        ]
        for dt, v in placed:
            self.place(gen_name(dt, v))
        j = self.list_json()
        self.assertIs(j["ok"], True)
        expected = sorted(placed, reverse=True)
        self.assertEqual([a["name"] for a in j["archives"]], [gen_name(dt, v) for dt, v in expected])
        for a, (dt, v) in zip(j["archives"], expected):
            # The name wins over the manifest (which says 10.11.0 and the real creation time).
            self.assertGoodArchive(a, gen_name(dt, v), iso(dt), v)
            self.assertEqual(a["time"], int(dt.timestamp()))
        self.assertEqual(j["warnings"], [])

    def test_spec_example_name(self):
        self.place("jellyfin.20261125T031500Z_10.11.0.tar.zst")
        a = self.list_json()["archives"][0]
        self.assertEqual(a["created"], "2026-11-25T03:15:00Z")
        self.assertEqual(a["time"], 1795576500)
        self.assertEqual(a["version"], "10.11.0")

    def test_other_names_take_time_and_version_from_the_manifest(self):
        self.place("manual-copy.tar.zst")
        self.place(gen_name(utc(2001, 2, 3, 4, 5, 6), "10.8.13"))
        self.place(gen_name(utc(2099, 2, 3, 4, 5, 6), "10.99.0"))
        j = self.list_json()
        created = self.manifest["created"]
        self.assertEqual([a["name"] for a in j["archives"]],
                         [gen_name(utc(2099, 2, 3, 4, 5, 6), "10.99.0"), "manual-copy.tar.zst",
                          gen_name(utc(2001, 2, 3, 4, 5, 6), "10.8.13")])
        self.assertGoodArchive(j["archives"][1], "manual-copy.tar.zst", created,
                               self.manifest["app"]["version"])
        self.assertEqual(self.manifest["app"]["version"], "10.11.0")

    def test_human_table(self):
        names = [gen_name(utc(2026, 11, 25, 3, 15, 0), "10.11.0"),
                 gen_name(utc(2026, 11, 24, 3, 15, 0), "10.11.0"),
                 gen_name(utc(2026, 11, 23, 3, 15, 0), "10.10.7"),
                 gen_name(utc(2026, 11, 22, 3, 15, 0), "10.10.7"),
                 gen_name(utc(2026, 11, 21, 3, 15, 0), "10.10.7")]
        self.place(names[0])
        self.place(names[1], sidecar="none")
        stale = self.place(names[2])
        os.utime(stale, (self.t0 + 100, self.t0 + 100))
        self.place(names[3], sidecar="garbage")
        self.place(names[4], blob=b"\0" * 4096, sidecar="none")  # ours by name, unreadable
        res = self.ls(self.dir)
        self.assertEqual(u.error_lines(res), [], "a plain list reports damage, it does not fail")
        rows = self.table_rows(res, names)
        for row, verified, day, version in zip(
                rows, ["sidecar only", "no sidecar", "stale sidecar", "bad sidecar", "DAMAGED"],
                ["2026-11-25", "2026-11-24", "2026-11-23", "2026-11-22", "2026-11-21"],
                ["10.11.0", "10.11.0", "10.10.7", "10.10.7", "10.10.7"]):
            self.assertIn(f" {verified} ", row)
            self.assertIn(day, row)
            self.assertIn("03:15", row)
            self.assertIn(version, row)
        for row in rows[:4]:
            self.assertRegex(row, rf"\s{self.files}\s", "the FILES column")

    def test_quiet(self):
        self.place(gen_name(utc(2026, 1, 1, 0, 0, 0), "10.11.0"))
        res = self.ls(self.dir, "--quiet")
        self.assertEqual((res.out, res.err), (b"", b""))

    def test_missing_directory(self):
        missing = self.tmp / "no-such-dir"
        res = self.ls(missing, expect=None)
        self.assertFails(res, 2, str(missing))
        res = self.ls(missing, "--json", expect=None)
        self.assertExit(res, 2)


class ListSidecars(ListBase):
    def test_sidecar_states(self):
        cases = {
            "matches": self.place(gen_name(utc(2026, 5, 1, 1, 0, 0), "10.11.0")),
            "missing": self.place(gen_name(utc(2026, 5, 2, 1, 0, 0), "10.11.0"), sidecar="none"),
            "stale": self.place(gen_name(utc(2026, 5, 3, 1, 0, 0), "10.11.0")),
            "invalid": self.place(gen_name(utc(2026, 5, 4, 1, 0, 0), "10.11.0"), sidecar="garbage"),
        }
        # The archive changed after its sidecar was written.
        os.utime(cases["stale"], (self.t0 + 3600, self.t0 + 3600))
        j = self.list_json()
        self.assertIs(j["ok"], True)
        got = self.by_name(j)
        self.assertEqual(len(got), 4, j)
        for state, path in cases.items():
            with self.subTest(state=state):
                a = got[path.name]
                self.assertEqual(a["sidecar"], state, a)
                self.assertIs(a["verified"], False, a)
                self.assertIsNone(a["error"])
                self.assertEqual(a["manifest"], self.manifest)
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".")], [],
                         "nothing hidden (lock, temp) is left in the directory")

    def test_sidecars_that_are_not_one_line_naming_the_archive(self):
        a = self.place(gen_name(utc(2026, 5, 1, 1, 0, 0), "10.11.0"), sidecar="othername")
        b = self.place(gen_name(utc(2026, 5, 2, 1, 0, 0), "10.11.0"), sidecar="twolines")
        c = self.place(gen_name(utc(2026, 5, 3, 1, 0, 0), "10.11.0"))
        (self.dir / (c.name + ".xxh128")).write_text("")  # empty
        os.utime(self.dir / (c.name + ".xxh128"), (self.t0 + 10, self.t0 + 10))
        got = self.by_name(self.list_json())
        for p in (a, b, c):
            with self.subTest(name=p.name):
                self.assertEqual(got[p.name]["sidecar"], "invalid", got[p.name])
                self.assertIs(got[p.name]["verified"], False)

    def test_check_passes_when_every_hash_matches(self):
        for day in (1, 2, 3):
            self.place(gen_name(utc(2026, 5, day, 1, 0, 0), "10.11.0"))
        j = self.list_json("--check")
        self.assertIs(j["ok"], True)
        self.assertEqual([a["sidecar"] for a in j["archives"]], ["matches"] * 3)
        res = self.ls(self.dir, "--check")
        self.assertEqual(u.error_lines(res), [])

    def test_wrong_hash_is_only_seen_by_check(self):
        good = self.place(gen_name(utc(2026, 5, 1, 1, 0, 0), "10.11.0"))
        bad = self.place(gen_name(utc(2026, 5, 2, 1, 0, 0), "10.11.0"), sidecar="wronghash")
        # Without --check the sidecar is only read, not compared: it looks fine.
        got = self.by_name(self.list_json())
        self.assertEqual(got[bad.name]["sidecar"], "matches")
        self.assertIs(got[bad.name]["verified"], False)
        res = self.ls(self.dir)
        self.assertEqual(u.error_lines(res), [])
        # --check verifies every byte, as verify does: the archive is intact, so its wrong sidecar
        # is rewritten (a warning says so) and the finding recorded.
        res = self.ls(self.dir, "--check", "--json")
        self.assertTrue(any("did not match the archive; rewritten" in w for w in res.json()["warnings"]),
                        res.describe())
        got = self.by_name(res.json())
        self.assertIs(got[bad.name]["verified"], True)
        self.assertEqual(got[bad.name]["sidecar"], "matches")
        self.assertTrue((self.dir / (bad.name + ".checked")).exists())
        got = self.by_name(self.list_json())
        self.assertIs(got[good.name]["verified"], True, "recorded: a plain list knows it now")

    def test_check_records_damage(self):
        name = gen_name(utc(2026, 5, 3, 1, 0, 0), "10.11.0")
        path = self.place(name)
        u.flip_keeping_mtime(path)
        res = self.ls(self.dir, "--check", expect=None)
        self.assertFails(res, 3, name, one_line=False)
        self.assertRegex(self.table_rows(res, [name])[0], " (MISMATCH|DAMAGED) ")
        j = self.list_json()
        self.assertIs(j["archives"][0]["damaged"], True, "the finding is recorded")


class ListCandidates(ListBase):
    def test_only_archives_are_listed(self):
        good = self.place(gen_name(utc(2026, 3, 1, 2, 0, 0), "10.11.0"))
        mine = self.place("my-backup.tar.zst")
        # Never candidates: not *.tar.zst, hidden, directories, sidecars.
        u.write_file(self.dir / "README", b"backups of the media server\n")
        u.write_file(self.dir / "x.tar.gz", self.blob)
        u.write_file(self.dir / ".hidden.tar.zst", self.blob)
        u.write_file(self.dir / ("." + gen_name(utc(2026, 3, 2, 2, 0, 0), "10.11.0")), self.blob)
        (self.dir / gen_name(utc(2026, 3, 3, 2, 0, 0), "10.11.0")).mkdir()
        (self.dir / "folder.tar.zst").mkdir()
        u.write_file(self.dir / "sub" / gen_name(utc(2026, 3, 4, 2, 0, 0), "10.11.0"), self.blob)
        # *.tar.zst whose start is not ours, with names create does not generate: ignored.
        u.write_file(self.dir / "notours.tar.zst", os.urandom(5000))
        u.write_file(self.dir / "other-tool.tar.zst", u.zstd_compress(u.pax_file_entry("a.txt", b"hello\n")
                                                                      + b"\0" * 1024))
        u.write_file(self.dir / "empty.tar.zst", b"")
        # The same with generated names: ours, damaged.
        damaged = {
            gen_name(utc(2026, 2, 1, 0, 0, 0), "10.11.0"): os.urandom(5000),
            gen_name(utc(2026, 2, 2, 0, 0, 0), "10.11.0"): u.zstd_compress(
                u.pax_file_entry("a.txt", b"hello\n") + b"\0" * 1024),
            gen_name(utc(2026, 2, 3, 0, 0, 0), "10.11.0"): b"",
            gen_name(utc(2026, 2, 4, 0, 0, 0), "10.11.0"): self.blob[:20],
        }
        for name, blob in damaged.items():
            u.write_file(self.dir / name, blob)

        j = self.list_json()
        self.assertIs(j["ok"], True, "a plain list reports damage, it does not fail")
        got = self.by_name(j)
        self.assertEqual(set(got), {good.name, mine.name, *damaged}, j)
        self.assertIsNone(got[good.name]["error"])
        self.assertIsNone(got[mine.name]["error"])
        for name in damaged:
            with self.subTest(name=name):
                a = got[name]
                self.assertIsInstance(a["error"], str, a)
                self.assertTrue(a["error"], a)
                self.assertIsNone(a["manifest"], a)
                self.assertIs(a["verified"], False, a)
                self.assertEqual(a["size"], len(damaged[name]))
                self.assertEqual(a["version"], "10.11.0")
                self.assertEqual(a["created"], name[9:13] + "-" + name[13:15] + "-" + name[15:17] + "T00:00:00Z")
        res = self.ls(self.dir)
        self.assertEqual(u.error_lines(res), [])
        names = [a["name"] for a in j["archives"]]
        for row, name in zip(self.table_rows(res, names), names):
            self.assertEqual(" DAMAGED " in row, name in damaged, row)
        for never in ("README", "x.tar.gz", ".hidden.tar.zst", "folder.tar.zst", "notours.tar.zst",
                      "other-tool.tar.zst", "empty.tar.zst", ".xxh128"):
            self.assertNotIn(never, "\n".join(l.split()[-1] for l in res.stdout.splitlines() if l.split()))
        # Listing changes nothing in the directory.
        self.assertEqual(sorted(n for n in os.listdir(self.dir) if n.startswith(".")),
                         [".hidden.tar.zst", ".jellyfin.20260302T020000Z_10.11.0.tar.zst"],
                         "nothing hidden (lock, temp) is added to the directory")

    def test_check_reports_a_damaged_archive(self):
        self.place(gen_name(utc(2026, 3, 1, 2, 0, 0), "10.11.0"))
        bad = gen_name(utc(2026, 2, 1, 0, 0, 0), "10.11.0")
        u.write_file(self.dir / bad, os.urandom(3000))
        res = self.ls(self.dir, "--check", expect=None)
        self.assertFails(res, 3, bad)
        # "<thing>: <what>; <what to do>": the archive is the thing, named once.
        line = u.error_lines(res)[0]
        self.assertEqual(line.count(bad), 1, f"the error names the archive more than once: {line!r}")
        self.assertEqual(line.count("; "), 1, f"not one '<what>; <what to do>': {line!r}")


class ListNoLock(ListBase):
    def test_read_only_directory(self):
        name = gen_name(utc(2026, 4, 1, 0, 0, 0), "10.11.0")
        self.place(name)
        os.chmod(self.dir, 0o555)
        self.addCleanup(os.chmod, self.dir, 0o755)
        before = u.snapshot(self.dir)
        # As root, modes do not bind root: run as an unprivileged user, for whom the directory
        # (owned by root, or by us when not root) is read-only.
        for args in ([], ["--check"]):
            with self.subTest(args=args):
                res = u.run(["list", self.dir, "--json", "--config-file", "none", *args], drop_privs=True,
                            cwd="/")
                self.assertExit(res, 0)
                j = res.json()
                self.assertEqual([a["name"] for a in j["archives"]], [name])
                self.assertEqual(j["archives"][0]["sidecar"], "matches")
        self.assertEqual(u.snapshot(self.dir), before)

    def test_list_while_a_create_holds_the_directory(self):
        name = gen_name(utc(2026, 4, 1, 0, 0, 0), "10.11.0")
        self.place(name)
        config, data = u.make_basic_trees(self.tmp / "src")
        env = {**os.environ, "JELLYFIN_BACKUP_LOCK_DIR": str(self.mkdir("locks"))}
        held = u.HeldRun(self, ["create", "--config", config, "--data", data, "--output", self.dir,
                                "--server-version", "10.11.0", "--config-file", "none", "--quiet"], env=env)
        self.assertTrue(os.listdir(env["JELLYFIN_BACKUP_LOCK_DIR"]), "create holds the backup directory's lock")
        res = self.ls(self.dir, "--json", env=env)
        self.assertEqual([a["name"] for a in res.json()["archives"]], [name])
        held.release()
        self.assertEqual(held.proc.returncode, 0)
        self.assertEqual(len(self.list_json(env=env)["archives"]), 2)


class ListReadsOnlyTheStart(ListBase):
    big = 24 * 1024 * 1024  # random, so the archive has several 16 MiB frames

    def test_damage_at_the_end_is_only_seen_by_check(self):
        name = gen_name(utc(2026, 6, 1, 0, 0, 0), "10.11.0")
        path = self.place(name)
        blob = bytearray(self.blob)
        self.assertGreater(len(blob), 20 * 1024 * 1024)
        blob[len(blob) - 200] ^= 0x40
        path.write_bytes(bytes(blob))
        os.utime(path, (self.t0, self.t0))  # as it was: the sidecar is not stale
        t = time.monotonic()
        j = self.list_json()
        a = j["archives"][0]
        self.assertGoodArchive(a, name, "2026-06-01T00:00:00Z", "10.11.0")
        res = self.ls(self.dir)
        self.assertIn(" sidecar only ", self.table_rows(res, [name])[0])
        self.assertEqual(u.error_lines(res), [])

        j = self.list_json("--check", expect=3)
        self.assertEqual(j["archives"][0]["sidecar"], "mismatch")
        self.assertIs(j["archives"][0]["verified"], False)
        res = self.ls(self.dir, "--check", expect=None)
        self.assertFails(res, 3, name)
        self.assertIn(" MISMATCH ", self.table_rows(res, [name])[0])


if __name__ == "__main__":
    unittest.main()
