"""kill -9 at any moment of a restore, then `recover`: data and config are both old or both new.

Two installs A and B (sample trees of different seeds, a marker file "A"/"B" in each tree, a few MiB
of incompressible data so that extraction takes a while) are archived. Each round restores the
archive of the install that is *not* in place over the one that is ("old" -> "new"), SIGKILLs the
restore at a chosen moment, runs `recover`, and checks (issue "restore", point 7):

  * while a journal is pending, restore refuses (exit 4) and says to run recover;
  * recover exits 0, and afterwards no staging directory, journal or temp file is left;
  * config and data are each, entirely, the old or the new install (content, modes, mtimes, links,
    compared with snapshots of the sources), and both the same one;
  * with --keep-old and the new install in place, the old one is kept whole as <target>.bak-<stamp>;
    with --discard-old nothing is kept; with the old one in place, no backup exists.

Moments: at a random delay after the first staging directory appears (extraction, before the
journal), and at a random delay after the journal (or its temp file) appears (the journal's writing,
the swap: renames, fsyncs, moving aside or deleting the old tree).

JB_STRESS_ITERATIONS=N runs N random rounds instead of the fixed handful (tests/stress/restore_kill.sh);
JB_STRESS_SEED=S replays a run.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_restore_crash.py
"""

import dataclasses
import os
import random
import signal
import sys
import time
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

STRESS_ITERATIONS = int(os.environ.get("JB_STRESS_ITERATIONS") or 0)
SEED = int(os.environ.get("JB_STRESS_SEED") or random.SystemRandom().randrange(1 << 31))

# What the comparison of an install with a source looks at (not inode numbers).
FIELDS = ("kind", "mode", "uid", "gid", "mtime_ns", "size", "sha256", "target", "xattrs", "nlink",
          "rdev")


def differences(expected: dict, path: Path) -> list[str]:
    """How the tree at `path` differs from the snapshot `expected` of a source tree."""
    got = u.snapshot(path)
    problems = [f"missing {p!r}" for p in sorted(set(expected) - set(got))]
    problems += [f"unexpected {p!r}" for p in sorted(set(got) - set(expected))]
    for p in sorted(set(expected) & set(got)):
        a, b = expected[p], got[p]
        for f in FIELDS:
            if f == "mtime_ns" and a.kind == "symlink":
                continue
            if f == "nlink" and a.kind == "dir":
                continue
            if getattr(a, f) != getattr(b, f):
                problems.append(f"{p!r}: {f} {getattr(a, f)!r} != {getattr(b, f)!r}")
    return problems


@dataclasses.dataclass
class Round:
    # The moment after which the kill comes: "extract" (the first staging directory appeared),
    # "journal" (the first journal temp file appeared), "swap" (both journals are in place).
    when: str
    discard_old: bool
    delay: float | None  # seconds after that moment; None: random within the phase


# The fixed rounds of the normal test run: every phase at least once.
FIXED_ROUNDS = [
    Round("extract", False, None),
    Round("journal", False, 0.0),
    Round("swap", False, 0.0),
    Round("swap", False, None),
    Round("swap", True, None),
    Round("journal", True, None),
]


class CrashRecover(u.E2ETestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("crash")
        cls.sources, cls.snaps, cls.archives = {}, {}, {}
        for label, seed in (("A", 1), ("B", 2)):
            config, data = r.marked_trees(cls.shared / label, label, seed=seed)
            u.write_random_file(data / "bulk" / f"{label}.bin", 6 << 20)
            u.write_random_file(config / "bulk.bin", 1 << 20)
            cls.sources[label] = (config, data)
            cls.snaps[label] = {"config": u.snapshot(config), "data": u.snapshot(data)}
            archive = cls.shared / f"{label}.tar.zst"
            # Whole installs, logs included (data/log is left out by default): `which` compares
            # every entry of a tree with its source.
            res = u.run(["create", "--config", config, "--data", data, "--output", archive,
                         "--include-logs", "--quiet"], timeout=120)
            if res.code != 0:
                raise RuntimeError(res.describe())
            cls.archives[label] = archive

    def setUp(self):
        super().setUp()
        self.rng = random.Random(SEED)
        self.srv = self.mkdir("srv")
        self.config, self.data = self.srv / "config", self.srv / "data"
        self.data_journal = u.journal_path(self.data)
        self.log = []
        self.debris = []

    # -- pieces ------------------------------------------------------------------------------

    def which(self) -> str:
        """'A' or 'B': the install in place, checked entry by entry; fails if it is a mix."""
        found = {}
        for tree, path in (("config", self.config), ("data", self.data)):
            marker = (path / "MARKER.txt").read_text().split()[0] if (path / "MARKER.txt").exists() \
                else None
            self.assertIn(marker, ("A", "B"), f"{tree}: no valid marker")
            problems = differences(self.snaps[marker][tree], path)
            if problems:
                self.fail(f"{tree} is neither install A nor B, entirely (marker {marker}):\n  "
                          + "\n  ".join(problems[:20]) + "\n" + "\n".join(self.log))
            found[tree] = marker
        self.assertEqual(found["config"], found["data"],
                         "data and config come from different installs\n" + "\n".join(self.log))
        return found["data"]

    def restore_argv(self, label: str, discard_old: bool) -> list:
        argv = ["restore", self.archives[label], "--config", self.config, "--data", self.data,
                "--quiet"]
        return argv + (["--discard-old"] if discard_old else [])

    def journal_seen(self) -> bool:
        """A journal is being written (its temp file) or is there (in the state directory)."""
        return bool(u.journals())

    def journals_written(self) -> bool:
        """Both journals are in place (config's is written first, data's last): the swap starts."""
        return os.path.lexists(self.data_journal)

    def staging_seen(self) -> bool:
        return any(r.STAGING_RE.match(n) for n in os.listdir(self.srv))

    def timed_run(self, label: str, discard_old: bool) -> dict:
        """An uninterrupted restore: seconds from the first staging directory ("extract"), from
        the first journal temp file ("journal"), from both journals in place ("swap") to the
        next of these moments or the end."""
        proc = u.popen(self.restore_argv(label, discard_old), stdout=None, stderr=None)
        t = {}
        checks = (("extract", self.staging_seen), ("journal", self.journal_seen),
                  ("swap", self.journals_written))
        while proc.poll() is None:
            for name, seen in checks:
                if name not in t and seen():
                    t[name] = time.monotonic()
        end = time.monotonic()
        self.assertEqual(proc.returncode, 0, "an uninterrupted restore failed")
        marks = [t.get(name, end) for name, _ in checks] + [end]
        return {name: max(marks[i + 1] - marks[i], 0.0) for i, (name, _) in enumerate(checks)}

    def clear_backups(self):
        for n in r.backups(self.srv):
            u.rmtree_force(self.srv / n)

    def crash_round(self, i: int, rnd: Round, timing: dict) -> str:
        old = self.which()
        new = "B" if old == "A" else "A"
        span = timing[rnd.discard_old][rnd.when]
        if rnd.delay is not None:
            delay = rnd.delay
        elif rnd.when == "extract":
            delay = self.rng.uniform(0.0, span * 0.8)
        else:
            delay = self.rng.uniform(0.0, max(span, 0.001) * 1.2)

        proc = u.popen(self.restore_argv(new, rnd.discard_old), stdout=None, stderr=None)
        seen = {"extract": self.staging_seen, "journal": self.journal_seen,
                "swap": self.journals_written}[rnd.when]
        while proc.poll() is None and not seen():
            pass
        t1 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t1 < delay:
            pass
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = u.list_dir(self.srv)
        pending = any(r.JOURNAL_RE.match(n) for n in left)
        entry = (f"round {i}: {rnd.when} +{delay * 1000:.1f} ms, "
                 f"{'--discard-old' if rnd.discard_old else '--keep-old'}, {old}->{new}, "
                 f"{'killed' if killed else f'finished (exit {proc.returncode})'}; left: {left}")
        self.log.append(entry)
        if not killed:
            self.assertEqual(proc.returncode, 0, entry)

        if pending:
            # Point 7: nothing may touch the trees before recover.
            res = u.run(self.restore_argv(new, rnd.discard_old))
            self.assertExit(res, 4, "restore while a journal is pending\n" + entry)
            self.assertIn("recover", res.stderr)

        res = u.run(["recover", "--config", self.config, "--data", self.data, "--json"])
        self.assertExit(res, 0, "recover after a kill -9\n" + "\n".join(self.log))
        outcome = res.json().get("outcome")
        self.log[-1] += f"; recover: {outcome}"

        # Nothing but the two trees and backups beside them. Debris is collected (and cleared, so
        # that the rounds go on) and fails the test at the end.
        extra = [n for n in u.list_dir(self.srv) if n not in ("config", "data")
                 and not r.BACKUP_RE.match(n)]
        left_journals = u.journals()
        if left_journals:
            self.debris.append(f"journals {left_journals} after {self.log[-1]}")
            for n in left_journals:
                os.unlink(os.path.join(u.STATE_DIR, n))
        if extra:
            self.debris.append(f"{extra} after {self.log[-1]}")
            for n in extra:
                if (self.srv / n).is_dir():
                    u.rmtree_force(self.srv / n)
                else:
                    os.unlink(self.srv / n)

        now = self.which()
        if outcome == "completed":
            self.assertEqual(now, new, "recover said completed\n" + "\n".join(self.log))
        elif outcome == "rolled_back":
            self.assertEqual(now, old, "recover said rolled back\n" + "\n".join(self.log))

        baks = {t: r.backups(self.srv, t) for t in ("config", "data")}
        if now == new and not rnd.discard_old:
            for tree in ("config", "data"):
                self.assertEqual(len(baks[tree]), 1, f"{tree}: backups {baks[tree]}\n"
                                 + "\n".join(self.log))
                problems = differences(self.snaps[old][tree], self.srv / baks[tree][0])
                self.assertEqual(problems[:20], [], f"{tree}: the kept old tree is not the old "
                                 "install\n" + "\n".join(self.log))
        elif now == new and killed:
            # --discard-old removes the old trees only once the journal is gone (so nothing the
            # trees' owner does can leave a restore pending): a kill in between, or during that
            # removal, leaves (part of) an old tree aside for the user to remove. The new trees
            # are whole; what is left is only what the user asked to discard.
            for tree in ("config", "data"):
                self.assertLessEqual(len(baks[tree]), 1, f"{tree}: backups {baks[tree]}\n"
                                     + "\n".join(self.log))
        else:
            self.assertEqual(baks, {"config": [], "data": []},
                             "unexpected backups\n" + "\n".join(self.log))
        self.clear_backups()
        return f"{rnd.when}:{'killed' if killed else 'done'}:{outcome}:{'new' if now == new else 'old'}"

    # -- the test ----------------------------------------------------------------------------

    def test_kill_during_restore_then_recover(self):
        start = time.monotonic()
        # Install A in place, then time one uninterrupted restore of each kind (A <-> B).
        self.assertExit(u.run(self.restore_argv("A", False)), 0)
        self.assertEqual(self.which(), "A")
        timing = {False: self.timed_run("B", False)}
        self.assertEqual(self.which(), "B")
        self.clear_backups()
        timing[True] = self.timed_run("A", True)
        self.assertEqual(self.which(), "A")
        self.assertEqual(r.backups(self.srv), [])

        if STRESS_ITERATIONS:
            rounds = [Round(self.rng.choice(["extract", "journal", "swap", "swap"]),
                            self.rng.random() < 0.4, None) for _ in range(STRESS_ITERATIONS)]
        else:
            rounds = FIXED_ROUNDS
        seen = {}
        for i, rnd in enumerate(rounds):
            key = self.crash_round(i, rnd, timing)
            seen[key] = seen.get(key, 0) + 1
            if STRESS_ITERATIONS and (i + 1) % 10 == 0:
                print(f"  {i + 1}/{len(rounds)} rounds, {time.monotonic() - start:.0f} s",
                      file=sys.stderr)
        summary = ", ".join(f"{k} x{v}" for k, v in sorted(seen.items()))
        print(f"\n  seed {SEED}; timing {timing}; outcomes: {summary}", file=sys.stderr)
        if self.debris:
            self.fail("recover left files beside the targets (staging, journal or journal temp "
                      "files):\n  " + "\n  ".join(self.debris))


if __name__ == "__main__":
    unittest.main(verbosity=2)
