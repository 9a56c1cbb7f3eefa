"""prune [DIR] --keep-* N [--keep-version-change] [--dry-run]: restic `forget` semantics.

Archives are taken newest first; each rule (last, hourly, daily, weekly (ISO, Monday to Sunday),
monthly, yearly) keeps the newest archive of each of its N most recent periods that have archives;
rules are ORed; a rule that still has count left at the oldest archive keeps that one too ("oldest
daily", as restic >= 0.17 does). Periods are in the local time zone: the binary runs with TZ=UTC
here unless a test is about the zone. --keep-version-change keeps the newest archive of each
Jellyfin version. The newest archive is never deleted; nothing is deleted without a policy; files
that are not our readable archives are never touched.

Archives "of different times" are copies of one real archive under the names create generates
("jellyfin.<YYYYMMDDTHHMMSSZ>_<version>.tar.zst"), each with a correct sidecar. What the binary keeps
is compared with `restic_policy` below, a small independent port of restic's ApplyPolicy, and with
hand-written expectations.

Run: JB_BIN=build-e2e/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_prune.py
"""

import os
import re
import shutil
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

import e2e_util as u

RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
UTC_ENV = {**os.environ, "TZ": "UTC"}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def gen_name(dt: datetime, version: str) -> str:
    return f"jellyfin.{dt.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}_{version}.tar.zst"


# --------------------------------------------------------------------------------------------------
# restic's ApplyPolicy (internal/restic/snapshot_policy.go), independently in Python


def _bucket(rule: str, t: datetime, nr: int):
    if rule == "last":
        return nr
    if rule == "hourly":
        return (t.year, t.month, t.day, t.hour)
    if rule == "daily":
        return (t.year, t.month, t.day)
    if rule == "weekly":
        y, w, _ = t.isocalendar()
        return (y, w)
    if rule == "monthly":
        return (t.year, t.month)
    return t.year


def restic_policy(archives, policy: dict, *, version_change=False, tz=timezone.utc) -> dict:
    """{name: [reasons]} of the archives kept; `archives`: [(datetime, version)] with distinct
    times; `policy`: {rule: count}, count -1 for unlimited."""
    items = sorted(archives, key=lambda a: a[0], reverse=True)
    buckets = [[policy.get(r, 0), r, None] for r in RULES]
    versions = set()
    kept = {}
    for nr, (dt, version) in enumerate(items):
        local = dt.astimezone(tz)
        oldest = nr == len(items) - 1
        reasons = []
        for b in buckets:
            count, rule, last = b
            if count == 0:
                continue
            val = _bucket(rule, local, nr)
            if val != last or oldest:
                reasons.append(("oldest " if val == last else "") + rule)
                b[2] = val
                if count > 0:
                    b[0] -= 1
        if version_change and version not in versions:
            versions.add(version)
            reasons.append(f"version {version}")
        if nr == 0 and not reasons:
            reasons.append("newest")
        if reasons:
            kept[gen_name(dt, version)] = reasons
    return kept


# --------------------------------------------------------------------------------------------------


class PruneBase(u.E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        u.make_shared_archive(cls, "prune")

    def setUp(self):
        super().setUp()
        self.dir = self.mkdir("backups")

    def series(self, archives, *, sidecars=True) -> list[str]:
        """Writes [(datetime, version)] as archives with generated names (and sidecars)."""
        names = []
        for dt, version in archives:
            name = gen_name(dt, version)
            (self.dir / name).write_bytes(self.blob)
            if sidecars:
                (self.dir / (name + ".xxh128")).write_text(f"{self.hash}  {name}\n")
            names.append(name)
        return names

    def prune(self, *args, expect: int | None = 0, env=None, dir=None) -> u.Result:
        res = u.run(["prune", self.dir if dir is None else dir, *args, "--config-file", "none"],
                    env=UTC_ENV if env is None else env)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def prune_json(self, *args, expect: int | None = 0, **kw) -> dict:
        res = self.prune(*args, "--json", expect=expect, **kw)
        try:
            j = res.json()
        except ValueError:
            self.fail(f"stdout is not one JSON object\n{res.describe()}")
        self.assertEqual(j["command"], "prune")
        self.assertEqual(j["location"], str(self.dir))
        for key in ("ok", "dry_run", "policy", "keep", "remove", "unreadable", "freed_bytes", "warnings"):
            self.assertIn(key, j)
        return j

    @staticmethod
    def kept(j) -> dict:
        return {a["name"]: sorted(a["reasons"]) for a in j["keep"]}

    @staticmethod
    def removed(j) -> list:
        return sorted(a["name"] for a in j["remove"])

    def archives_on_disk(self) -> list:
        return sorted(n for n in os.listdir(self.dir) if n.endswith(".tar.zst"))

    def assertPrune(self, archives, args, expected: dict, *, version_change=False, env=None,
                    tz=timezone.utc):
        """Runs a dry run and then a real prune of `archives` with `args`; both must keep exactly
        `expected` ({name: reasons}), which must also be what restic_policy says."""
        names = self.series(archives)
        policy = {}
        for i, a in enumerate(args):
            if a.startswith("--keep-") and a != "--keep-version-change":
                n = args[i + 1]
                policy[a[len("--keep-"):]] = -1 if n == "unlimited" else int(n)
        reference = restic_policy(archives, policy, version_change=version_change, tz=tz)
        self.assertEqual({k: sorted(v) for k, v in reference.items()},
                         {k: sorted(v) for k, v in expected.items()},
                         "the test's own expectation disagrees with the restic port")
        newest = gen_name(max(archives)[0], max(archives)[1])
        self.assertIn(newest, expected, "the newest archive is always kept")
        to_remove = sorted(set(names) - set(expected))

        before = u.snapshot(self.dir)
        dry = self.prune_json(*args, "--dry-run", env=env)
        self.assertEqual(u.snapshot(self.dir), before, "--dry-run changed the directory")
        self.assertIs(dry["dry_run"], True)
        self.assertEqual(self.kept(dry), {k: sorted(v) for k, v in expected.items()})
        self.assertEqual(self.removed(dry), to_remove)
        self.assertTrue(all(a["removed"] is False for a in dry["remove"]), dry["remove"])

        real = self.prune_json(*args, env=env)
        self.assertIs(real["ok"], True)
        self.assertIs(real["dry_run"], False)
        self.assertEqual(self.kept(real), self.kept(dry), "a dry run decides what the real run does")
        self.assertEqual(self.removed(real), to_remove)
        for a in real["remove"]:
            self.assertIs(a["removed"], True, a)
            self.assertIsNone(a["error"], a)
        self.assertEqual(self.archives_on_disk(), sorted(expected))
        # Sidecars go with their archives, and stay with the kept ones.
        self.assertEqual(sorted(n for n in os.listdir(self.dir) if n.endswith(".xxh128")),
                         sorted(n + ".xxh128" for n in expected))
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".")], [], "nothing hidden (lock, temp) is left in the directory")
        self.assertEqual(real["freed_bytes"], dry["freed_bytes"])
        size = len(self.blob)
        self.assertGreaterEqual(real["freed_bytes"], size * len(to_remove))
        self.assertLessEqual(real["freed_bytes"], (size + 200) * len(to_remove))
        return real


class PruneRules(PruneBase):
    def test_restic_documented_example(self):
        # restic's doc/060_forget.rst: one backup every Sunday for 12 weeks, forget --keep-daily 4.
        sundays = [(utc(2019, 9, 1, 11) + timedelta(weeks=i), "10.11.0") for i in range(12)]
        self.assertEqual(sundays[-1][0], utc(2019, 11, 17, 11))
        expected = {gen_name(dt, v): ["daily"] for dt, v in sundays[-4:]}
        j = self.assertPrune(sundays, ["--keep-daily", "4"], expected)
        self.assertEqual(len(j["keep"]), 4)
        self.assertEqual(len(j["remove"]), 8)
        # Newest first, as listed.
        self.assertEqual([a["name"] for a in j["keep"]], [gen_name(dt, v) for dt, v in reversed(sundays[-4:])])

    def forty_days(self):
        """One archive a day at 03:30 for 40 days (2026-01-10 .. 2026-02-18), and on every fifth day
        a second one at 15:00 (the newer of that day)."""
        out = []
        for i in range(40):
            day = utc(2026, 1, 10, 3, 30) + timedelta(days=i)
            out.append((day, "10.11.0"))
            if i % 5 == 0:
                out.append((day + timedelta(hours=11, minutes=30), "10.11.0"))
        return out

    def test_daily_weekly_monthly(self):
        archives = self.forty_days()
        # By hand: dailies are the newest of Feb 18 .. Feb 12 (Feb 14: its 15:00 one); weeks
        # (Mon-Sun) with archives, newest first: Feb 16-22 (its newest, Feb 18, already daily), Feb 9-15
        # (Sunday Feb 15), Feb 2-8 (Feb 8), Jan 26-Feb 1 (Feb 1); months: February (Feb 18), January
        # (Jan 31).
        n = lambda m, d, h=3, mi=30: gen_name(utc(2026, m, d, h, mi), "10.11.0")
        expected = {
            n(2, 18): ["daily", "weekly", "monthly"],
            n(2, 17): ["daily"],
            n(2, 16): ["daily"],
            n(2, 15): ["daily", "weekly"],
            n(2, 14, 15, 0): ["daily"],
            n(2, 13): ["daily"],
            n(2, 12): ["daily"],
            n(2, 8): ["weekly"],
            n(2, 1): ["weekly"],
            n(1, 31): ["monthly"],
        }
        self.assertEqual(len(archives), 48)
        self.assertPrune(archives, ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "2"], expected)

    def test_oldest_archive_kept_while_a_rule_has_count_left(self):
        archives = self.forty_days()
        n = lambda m, d, h=3, mi=30: gen_name(utc(2026, m, d, h, mi), "10.11.0")
        # Two months have archives, 6 were asked for: the oldest of all is kept too.
        expected = {n(2, 18): ["monthly"], n(1, 31): ["monthly"], n(1, 10): ["oldest monthly"]}
        self.assertPrune(archives, ["--keep-monthly", "6"], expected)

    def test_keep_last(self):
        archives = [(utc(2026, 7, 1) + timedelta(hours=7 * i), "10.11.0") for i in range(6)]
        expected = {gen_name(dt, v): ["last"] for dt, v in archives[-2:]}
        self.assertPrune(archives, ["--keep-last", "2"], expected)

    def test_keep_last_more_than_there_are(self):
        archives = [(utc(2026, 7, 1) + timedelta(hours=7 * i), "10.11.0") for i in range(3)]
        expected = {gen_name(dt, v): ["last"] for dt, v in archives}
        j = self.assertPrune(archives, ["--keep-last", "5"], expected)
        self.assertEqual(j["remove"], [])
        self.assertEqual(j["freed_bytes"], 0)

    def test_keep_last_unlimited(self):
        archives = [(utc(2026, 7, 1) + timedelta(hours=7 * i), "10.11.0") for i in range(4)]
        expected = {gen_name(dt, v): ["last"] for dt, v in archives}
        self.assertPrune(archives, ["--keep-last", "unlimited"], expected)

    def test_hourly(self):
        # Every 20 minutes from 09:05 to 13:45, and one the day before.
        archives = [(utc(2026, 8, 3, 9, 5) + timedelta(minutes=20 * i), "10.11.0") for i in range(15)]
        archives.append((utc(2026, 8, 2, 22, 0), "10.11.0"))
        n = lambda h, mi: gen_name(utc(2026, 8, 3, h, mi), "10.11.0")
        expected = {n(13, 45): ["hourly"], n(12, 45): ["hourly"], n(11, 45): ["hourly"]}
        self.assertPrune(archives, ["--keep-hourly", "3"], expected)

    def test_weekly_is_iso_monday_to_sunday(self):
        # 2020-12-31 is a Thursday: 2020 has an ISO week 53, Monday Dec 28 .. Sunday Jan 3 2021.
        # (A past year: an archive dated in the future is never judged.)
        days = [utc(2020, 12, 27, 4), utc(2020, 12, 28, 4), utc(2020, 12, 31, 4), utc(2021, 1, 1, 4),
                utc(2021, 1, 3, 4), utc(2021, 1, 4, 4)]
        archives = [(d, "10.11.0") for d in days]
        n = lambda d: gen_name(d, "10.11.0")
        expected = {n(days[5]): ["weekly"], n(days[4]): ["weekly"], n(days[0]): ["weekly"]}
        self.assertPrune(archives, ["--keep-weekly", "3"], expected)

    def test_yearly_unlimited_keeps_the_oldest_too(self):
        days = [utc(2022, 3, 1), utc(2022, 9, 1), utc(2023, 5, 1), utc(2024, 1, 1), utc(2024, 7, 1)]
        archives = [(d, "10.11.0") for d in days]
        n = lambda d: gen_name(d, "10.11.0")
        expected = {n(days[4]): ["yearly"], n(days[2]): ["yearly"], n(days[1]): ["yearly"],
                    n(days[0]): ["oldest yearly"]}
        self.assertPrune(archives, ["--keep-yearly", "unlimited"], expected)

    def test_version_change(self):
        archives = [
            (utc(2026, 1, 1, 3), "10.10.7"), (utc(2026, 1, 2, 3), "10.10.7"), (utc(2026, 1, 3, 3), "10.10.7"),
            (utc(2026, 1, 4, 3), "10.11.0"), (utc(2026, 1, 5, 3), "10.11.0"), (utc(2026, 1, 6, 3), "10.11.0"),
            (utc(2026, 1, 7, 3), "10.11.1"), (utc(2026, 1, 8, 3), "10.11.1"),
        ]
        expected = {gen_name(utc(2026, 1, 3, 3), "10.10.7"): ["version 10.10.7"],
                    gen_name(utc(2026, 1, 6, 3), "10.11.0"): ["version 10.11.0"],
                    gen_name(utc(2026, 1, 8, 3), "10.11.1"): ["version 10.11.1"]}
        j = self.assertPrune(archives, ["--keep-version-change"], expected, version_change=True)
        self.assertIs(j["policy"]["keep_version_change"], True)

    def test_version_change_with_keep_last(self):
        archives = [(utc(2026, 1, 1, 3), "10.10.7"), (utc(2026, 1, 2, 3), "10.10.7"),
                    (utc(2026, 1, 4, 3), "10.11.0"), (utc(2026, 1, 7, 3), "10.11.1"),
                    (utc(2026, 1, 8, 3), "10.11.1")]
        expected = {gen_name(utc(2026, 1, 8, 3), "10.11.1"): ["last", "version 10.11.1"],
                    gen_name(utc(2026, 1, 7, 3), "10.11.1"): ["last"],
                    gen_name(utc(2026, 1, 4, 3), "10.11.0"): ["version 10.11.0"],
                    gen_name(utc(2026, 1, 2, 3), "10.10.7"): ["version 10.10.7"]}
        self.assertPrune(archives, ["--keep-last", "2", "--keep-version-change"], expected,
                         version_change=True)

    def test_periods_are_in_the_local_time_zone(self):
        archives = [(utc(2026, 3, 2, 6), "10.11.0"), (utc(2026, 3, 2, 4), "10.11.0"),
                    (utc(2026, 3, 2, 2), "10.11.0"), (utc(2026, 3, 1, 12), "10.11.0")]
        n = lambda h, d=2: gen_name(utc(2026, 3, d, h), "10.11.0")
        # In UTC: Mar 2 has 06:00, 04:00, 02:00; Mar 1 has 12:00.
        utc_kept = {n(6): ["daily"], n(12, 1): ["daily"]}
        self.assertEqual(restic_policy(archives, {"daily": 2}), utc_kept)
        # Five hours west of UTC (POSIX TZ "JBT5", no tz database needed): 06:00Z is 01:00 on Mar 2,
        # the others fall on Mar 1.
        west = timezone(timedelta(hours=-5))
        self.assertPrune(archives, ["--keep-daily", "2"], {n(6): ["daily"], n(4): ["daily"]},
                         env={**os.environ, "TZ": "JBT5"}, tz=west)

    def test_combined_rules_over_a_long_irregular_history(self):
        # Backups at irregular hours over about 14 months; several rules at once against the port.
        archives = []
        t = utc(2025, 1, 3, 2, 17)
        step = 0
        while t < utc(2026, 3, 1):
            archives.append((t, "10.10.7" if t < utc(2025, 9, 14) else "10.11.0"))
            step += 1
            t += timedelta(hours=5 + (step * 37) % 61)
        expected = restic_policy(archives, {"last": 3, "hourly": 5, "daily": 7, "weekly": 5,
                                            "monthly": 12, "yearly": 2}, version_change=True)
        self.assertGreater(len(archives), 200)
        self.assertPrune(archives, ["--keep-last", "3", "--keep-hourly", "5", "--keep-daily", "7",
                                    "--keep-weekly", "5", "--keep-monthly", "12", "--keep-yearly", "2",
                                    "--keep-version-change"], expected, version_change=True)


class PruneSafety(PruneBase):
    def test_no_policy_deletes_nothing(self):
        self.series([(utc(2026, 1, d), "10.11.0") for d in range(1, 6)])
        before = u.snapshot(self.dir)
        for extra in ([], ["--dry-run"], ["--json"]):
            with self.subTest(extra=extra):
                res = self.prune(*extra, expect=None)
                self.assertFails(res, 2)
                self.assertEqual(u.snapshot(self.dir), before)

    def test_bad_count_deletes_nothing(self):
        self.series([(utc(2026, 1, d), "10.11.0") for d in range(1, 4)])
        before = u.snapshot(self.dir)
        for bad in ("abc", "-3", ""):
            with self.subTest(value=bad):
                res = self.prune("--keep-daily", bad, expect=None)
                self.assertFails(res, 2)
                self.assertEqual(u.snapshot(self.dir), before)

    def test_missing_directory(self):
        missing = self.tmp / "no-such-dir"
        res = self.prune("--keep-last", "1", dir=missing, expect=None)
        self.assertFails(res, 2, str(missing))
        self.assertFalse(missing.exists(), "prune created the directory")

    def test_files_that_are_not_our_readable_archives_are_never_touched(self):
        names = self.series([(utc(2026, 1, d, 3), "10.11.0") for d in range(1, 5)])
        foreign = {
            "README": b"my backups\n",
            "foo.tar.gz": self.blob,
            "foo.tar.zst": os.urandom(4000),
            ".hidden.tar.zst": self.blob,
            "." + gen_name(utc(2020, 1, 1), "10.11.0"): self.blob,
            "notes.txt.xxh128": b"0" * 32 + b"  notes.txt\n",
            # Ours by name, unreadable; the newest of all by time.
            gen_name(utc(2026, 1, 9, 3), "10.11.0"): os.urandom(4000),
            gen_name(utc(2025, 12, 1, 3), "10.11.0"): b"",
        }
        for name, blob in foreign.items():
            u.write_file(self.dir / name, blob)
        u.write_file(self.dir / "sub" / gen_name(utc(2019, 1, 1), "10.11.0"), self.blob)
        damaged = [gen_name(utc(2026, 1, 9, 3), "10.11.0"), gen_name(utc(2025, 12, 1, 3), "10.11.0")]
        before = {n: u.sha256_file(self.dir / n) for n in foreign}

        res = self.prune("--keep-last", "1", "--dry-run")
        for name in damaged:
            lines = [l for l in res.stdout.splitlines() if name in l]
            self.assertTrue(any("skipped" in l.lower() for l in lines),
                            f"{name} is not reported as skipped\n{res.describe()}")
        j = self.prune_json("--keep-last", "1")
        self.assertIs(j["ok"], True)
        # The unreadable archives do not take the place of the newest readable one.
        self.assertEqual(self.kept(j), {names[-1]: ["last"]})
        self.assertEqual(self.removed(j), sorted(names[:-1]))
        self.assertEqual(sorted(a["name"] for a in j["unreadable"]), sorted(damaged))
        for a in j["unreadable"]:
            self.assertTrue(a["error"], a)
        self.assertEqual({n: u.sha256_file(self.dir / n) for n in foreign}, before)
        self.assertTrue((self.dir / "sub" / gen_name(utc(2019, 1, 1), "10.11.0")).is_file())
        self.assertEqual(sorted(os.listdir(self.dir)),
                         sorted([*foreign, "sub", names[-1], names[-1] + ".xxh128"]))

    def test_archives_without_sidecars(self):
        archives = [(utc(2026, 2, d, 3), "10.11.0") for d in range(1, 5)]
        names = self.series(archives, sidecars=False)
        j = self.prune_json("--keep-last", "2")
        self.assertEqual(self.removed(j), sorted(names[:2]))
        self.assertEqual(self.archives_on_disk(), sorted(names[2:]))

    def test_newest_is_kept_by_every_policy(self):
        archives = [(utc(2026, 2, 1) + timedelta(hours=13 * i), v)
                    for i, v in enumerate(["10.11.0"] * 4 + ["10.10.7"])]
        newest = gen_name(*archives[-1])
        for args in (["--keep-last", "1"], ["--keep-hourly", "1"], ["--keep-daily", "1"],
                     ["--keep-weekly", "1"], ["--keep-monthly", "1"], ["--keep-yearly", "1"],
                     ["--keep-version-change"]):
            with self.subTest(args=args):
                self.series(archives)
                j = self.prune_json(*args, "--dry-run")
                self.assertIn(newest, self.kept(j))
                u.rmtree_force(self.dir)
                self.dir.mkdir()

    def test_json_shape(self):
        names = self.series([(utc(2026, 2, d, 3), "10.11.0") for d in range(1, 4)])
        j = self.prune_json("--keep-daily", "1", "--keep-weekly", "unlimited", "--dry-run")
        policy = j["policy"]
        for rule in RULES:
            self.assertIn(f"keep_{rule}", policy)
        self.assertEqual(policy["keep_daily"], 1)
        self.assertIn(policy["keep_last"], (0, None))
        self.assertIs(policy["keep_version_change"], False)
        self.assertEqual(j["warnings"], [])
        self.assertEqual(j["unreadable"], [])
        for a in j["keep"] + j["remove"]:
            for key in ("name", "path", "created", "time", "version", "size", "files", "bytes", "verified",
                        "check", "checked", "damaged", "damage", "sidecar", "error", "manifest"):
                self.assertIn(key, a)
            self.assertEqual(a["path"], str(self.dir / a["name"]))
            self.assertEqual(a["size"], len(self.blob))
            self.assertEqual(a["sidecar"], "matches")
            # A sidecar says the archive was written whole, not that it was checked.
            self.assertIs(a["verified"], False)
            self.assertEqual(a["check"], "never")
            self.assertIs(a["damaged"], False)
            self.assertEqual(a["version"], "10.11.0")
        for a in j["keep"]:
            self.assertIsInstance(a["reasons"], list)
        for a in j["remove"]:
            self.assertIs(a["removed"], False)
            self.assertIsNone(a["error"])
        # Sunday Feb 1 ends an ISO week of its own; Feb 2 and 3 are the next week's.
        self.assertEqual([a["name"] for a in j["keep"]], [names[2], names[0]])
        self.assertEqual(j["keep"][1]["reasons"], ["weekly"])
        self.assertEqual([a["name"] for a in j["remove"]], [names[1]])
        self.assertEqual(j["keep"][0]["created"], "2026-02-03T03:00:00Z")
        self.assertEqual(j["keep"][0]["time"], int(utc(2026, 2, 3, 3).timestamp()))
        self.assertEqual(sorted(j["keep"][0]["reasons"]), ["daily", "weekly"])

    def test_human_output(self):
        archives = [(utc(2019, 9, 1, 11) + timedelta(weeks=i), "10.11.0") for i in range(12)]
        names = self.series(archives)
        for dry in (True, False):
            with self.subTest(dry_run=dry):
                res = self.prune("--keep-daily", "4", "--keep-version-change", *(["--dry-run"] if dry else []))
                lines = res.stdout.splitlines()
                keep_at = [i for i, l in enumerate(lines) if re.match(r"^Keep 4 archives:", l)]
                self.assertEqual(len(keep_at), 1, res.describe())
                word = "Would remove" if dry else "Removed"
                rm_at = [i for i, l in enumerate(lines) if re.match(rf"^{word} 8 archives \(.+\):", l)]
                self.assertEqual(len(rm_at), 1, res.describe())
                self.assertLess(keep_at[0], rm_at[0])
                kept_lines = lines[keep_at[0] + 1:rm_at[0]]
                for name in names[-4:]:
                    line = [l for l in kept_lines if name in l]
                    self.assertEqual(len(line), 1, res.describe())
                    m = re.search(r"\(([^()]*)\)\s*$", line[0])
                    self.assertIsNotNone(m, f"no reasons in parentheses: {line[0]!r}")
                    self.assertIn("daily", m.group(1))
                    if name == names[-1]:
                        self.assertIn("version 10.11.0", m.group(1))
                removed_lines = lines[rm_at[0] + 1:]
                for name in names[:8]:
                    self.assertTrue(any(name in l for l in removed_lines), res.describe())
                self.assertEqual(self.archives_on_disk(), sorted(names if dry else names[-4:]))

    def test_quiet(self):
        names = self.series([(utc(2026, 2, d, 3), "10.11.0") for d in range(1, 4)])
        res = self.prune("--keep-last", "1", "--quiet")
        self.assertEqual((res.out, res.err), (b"", b""))
        self.assertEqual(self.archives_on_disk(), [names[-1]])

    def test_lock_only_while_running(self):
        names = self.series([(utc(2026, 2, d, 3), "10.11.0") for d in range(1, 4)])
        self.prune("--keep-last", "2", "--quiet")
        self.assertEqual(sorted(os.listdir(self.dir)),
                         sorted([names[1], names[2], names[1] + ".xxh128", names[2] + ".xxh128"]),
                         "no lock file (or anything else) is left behind")
        # While a create holds the directory, prune (which takes the lock) is refused.
        config, data = u.make_basic_trees(self.tmp / "src")
        env = {**UTC_ENV, "JELLYFIN_BACKUP_LOCK_DIR": str(self.mkdir("locks"))}
        held = u.HeldRun(self, ["create", "--config", config, "--data", data, "--output", self.dir,
                                "--server-version", "10.11.0", "--config-file", "none", "--quiet"], env=env)
        self.assertTrue(os.listdir(env["JELLYFIN_BACKUP_LOCK_DIR"]), "create holds its locks")
        res = self.prune("--keep-last", "1", expect=None, env=env)
        self.assertFails(res, 5, str(held.pid))
        self.assertEqual(self.archives_on_disk(), sorted(names[1:]))
        held.release()
        self.assertEqual(held.proc.returncode, 0)
        self.prune("--keep-last", "1", "--quiet", env=env)
        self.assertEqual(len(self.archives_on_disk()), 1)
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".")], [], "nothing hidden (lock, temp) is left in the directory")


class PruneHosts(PruneBase):
    """Archives of two hosts in one directory: judged apart (restic's default), or together."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare to make an archive on another host name")
        config, data = self.trees
        other = self.mkdir("other-out")
        # The same trees, backed up under another host name (a UTS namespace of its own).
        res = u.tool(["unshare", "-u", "sh", "-c",
                      f"hostname otherbox && exec '{u.BIN}' create --config '{config}' --data '{data}' "
                      f"--output '{other}' --server-version 10.11.0 --quiet --config-file none"], check=False)
        self.assertEqual(res.returncode, 0, res)
        self.other_blob = next(other.glob("*.tar.zst")).read_bytes()
        # Ours is the newest; the other host's two are older.
        [self.ours] = self.series([(utc(2026, 7, 3, 3), "10.11.0")])
        self.theirs = []
        for day in (1, 2):
            name = gen_name(utc(2026, 7, day, 3), "10.11.0")
            (self.dir / name).write_bytes(self.other_blob)
            self.theirs.append(name)

    def test_each_host_keeps_its_own_newest(self):
        res = self.prune("--keep-last", "1")
        self.assertIn("Archives of 2 hosts, judged apart (--group-by none judges them together)", res.stdout)
        self.assertEqual(sorted(u.list_dir(self.dir)),
                         sorted([self.ours, self.ours + ".xxh128", self.theirs[1]]))

    def test_group_by_none_judges_all_together(self):
        j = self.prune_json("--keep-last", "1", "--group-by", "none")
        self.assertEqual(j["policy"]["group_by"], "none")
        self.assertEqual(sorted(j["hosts"]), sorted(["otherbox", os.uname().nodename]))
        self.assertEqual(sorted(a["name"] for a in j["remove"]), sorted(self.theirs))
        self.assertEqual(sorted(u.list_dir(self.dir)), sorted([self.ours, self.ours + ".xxh128"]))

    def test_group_by_takes_host_or_none(self):
        res = self.prune("--keep-last", "1", "--group-by", "hostname", expect=None)
        self.assertFails(res, 2, "--group-by takes host or none")
        self.assertEqual(len(u.list_dir(self.dir)), 4)


if __name__ == "__main__":
    unittest.main()
