"""Nested trees (issue 4 "Know Jellyfin"): the official Docker image keeps config inside data,
linuxserver and hotio keep data inside config, the Windows installer config inside its data dir.

Each install is made whole under a fake root (make-sample-tree.py --root ROOT --install TYPE) and
found with --root. Checked: each tree is stored once, under its own top-level archive directory,
the manifest says where the inner tree sits ("inside"); the log, cache and transcode directories
inside a tree are left out (manifest "left_out") unless --include-logs / --include-cache; restore
into a nested install gives identical trees and keeps the old install as ONE <outer>.bak-<stamp>;
--only on the inner tree works, --only on the outer one is refused (exit 2); archives move between
a separate (debian) and a nested (docker) layout both ways; GNU tar extracts config/ and data/ side
by side.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_nested.py
"""

import os
import tempfile
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

# layout -> (outer tree, inner tree, path of the inner tree in the outer one)
NESTING = {
    "docker": ("data", "config", "config"),
    "linuxserver": ("config", "data", "data"),
    "hotio": ("config", "data", "data"),
    "windows": ("data", "config", "config"),
}

# layout -> {kind: archive path} of what a default create leaves out.
LEFT_OUT = {
    "docker": {"log": "data/log"},  # the cache is /cache, outside both trees
    "linuxserver": {"log": "config/log", "cache": "config/cache"},
    "hotio": {"log": "config/log", "cache": "config/cache"},
    "windows": {"log": "data/log", "cache": "data/cache"},
}

INCLUDE_ALL = ("--include-logs", "--include-cache")

_SHARED = {}  # made once per run: pristine installs and their archives


def tearDownModule():
    if "dir" in _SHARED:
        u.rmtree_force(_SHARED.pop("dir"))


def shared_dir() -> Path:
    if "dir" not in _SHARED:
        _SHARED["dir"] = Path(tempfile.mkdtemp(prefix="jb-e2e-nested-"))
        os.chmod(_SHARED["dir"], 0o755)
    return _SHARED["dir"]


def pristine(layout: str, seed: int = 1) -> Path:
    """A sample install (shared: never modify it, copy it)."""
    key = ("install", layout, seed)
    if key not in _SHARED:
        _SHARED[key] = u.make_install(shared_dir() / f"{layout}-{seed}", layout, seed=seed)
    return _SHARED[key]


def jb(args, **kw) -> u.Result:
    """The binary, in an environment where only --root says where installs are."""
    return u.run(args, env=u.install_env(), **kw)


def archive_of(layout: str, *flags) -> Path:
    """create --root <pristine layout> [flags], made once per flag set."""
    key = ("archive", layout, flags)
    if key not in _SHARED:
        path = shared_dir() / f"{layout}{''.join(flags)}.tar.zst"
        res = jb(["create", "--root", pristine(layout), "--output", path, "--quiet", *flags])
        if res.code != 0:
            raise AssertionError("create failed\n" + res.describe())
        _SHARED[key] = path
    return _SHARED[key]


def tree_dirs(root: Path, layout: str) -> dict[str, Path]:
    """{'data': .., 'config': ..} of an install of `layout` under root."""
    d = u.install_dirs(root, layout)
    return {"data": d["data"], "config": d["config"]}


def rel_names(tree: Path, prefix: str, skip=()) -> set[str]:
    """Archive names `prefix`/<rel> of every entry of `tree` (prefix itself included), leaving out
    `skip` (relative paths) and what is below them."""
    skip = [os.fsencode(s) for s in skip]
    out = set()
    for rel in u.snapshot(tree):
        if any(rel == s or rel.startswith(s + b"/") for s in skip):
            continue
        out.add(prefix + ("/" + os.fsdecode(rel) if rel else ""))
    return out


class NestedCase(u.E2ETestCase):
    def jb(self, *args, expect: int | None = 0) -> u.Result:
        res = jb(list(args))
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def manifest(self, archive) -> dict:
        return self.jb("inspect", "--json", archive).json()["manifest"]

    def target(self, layout: str) -> Path:
        """A private copy of another install of `layout` (seed 2) to restore into."""
        return u.copy_tree(pristine(layout, seed=2), self.tmp / f"target-{layout}")

    def assertSameTree(self, src, dst, skip=(), res: u.Result | None = None):
        problems = u.compare_trees(src, dst, skip_paths=skip)
        a, b = os.lstat(src), os.lstat(dst)
        if a.st_mtime_ns != b.st_mtime_ns:
            problems.append(f"root mtime_ns {a.st_mtime_ns} != {b.st_mtime_ns}")
        if problems:
            self.fail(f"{dst} differs from {src} (leaving out {list(skip)}):\n  "
                      + "\n  ".join(problems[:30]) + ("" if res is None else "\n" + res.describe()))

    def left_out_rel(self, layout: str, kinds=None) -> list[str]:
        """What a create of `layout` leaves out, relative to the outer tree."""
        outer = NESTING[layout][0]
        return [p[len(outer) + 1:] for k, p in LEFT_OUT[layout].items()
                if kinds is None or k in kinds]


# --------------------------------------------------------------------------------------------------


class StoredOnce(NestedCase):
    def check_archive(self, layout: str, archive: Path, left_out: dict[str, str]):
        outer, inner, rel = NESTING[layout]
        src = tree_dirs(pristine(layout), layout)
        names = u.archive_names(archive)
        self.assertEqual(names[0], "MANIFEST.json")
        self.assertEqual(names[-1], "CHECKSUMS.xxh128")
        self.assertEqual(len(names), len(set(names)), "an entry is stored twice")
        # Exactly the two trees: the inner one under its own name, the outer one without it and
        # without what is left out.
        skip = [rel] + [p[len(outer) + 1:] for p in left_out.values()]
        expected = rel_names(src[inner], inner) | rel_names(src[outer], outer, skip=skip)
        got = set(names[1:-1])
        self.assertEqual(sorted(got - expected), [], "unexpected entries")
        self.assertEqual(sorted(expected - got), [], "missing entries")
        self.assertEqual([n for n in names if n.startswith(f"{outer}/{rel}/")
                          or n == f"{outer}/{rel}"], [])
        if left_out:
            # The binary's own listing agrees.
            listing = self.jb("inspect", "--list", "--json", archive).json()["entries"]
            self.assertEqual([e["path"].rstrip("/") for e in listing], names)

        m = self.manifest(archive)
        trees = {t["name"]: t for t in m["trees"]}
        self.assertEqual(trees[inner].get("inside"), {"tree": outer, "path": rel})
        self.assertIsNone(trees[outer].get("inside"))
        self.assertEqual(trees[inner]["source"], os.path.realpath(src[inner]))
        self.assertEqual(trees[outer]["source"], os.path.realpath(src[outer]))
        dirs = u.install_dirs(pristine(layout), layout)
        self.assertEqual(sorted((e["kind"], e["path"], e["source"]) for e in m["left_out"]),
                         sorted((k, p, os.path.realpath(dirs[k])) for k, p in left_out.items()))
        self.assertIsNone(m.get("forced"))
        self.assertExit(u.run(["verify", "--quiet", archive]), 0)

    def test_each_tree_stored_once_logs_and_cache_left_out(self):
        for layout in NESTING:
            with self.subTest(layout=layout):
                self.check_archive(layout, archive_of(layout), LEFT_OUT[layout])

    def test_include_logs_and_cache(self):
        for layout in NESTING:
            with self.subTest(layout=layout):
                self.check_archive(layout, archive_of(layout, *INCLUDE_ALL), {})

    def test_include_logs_only(self):
        archive = archive_of("linuxserver", "--include-logs")
        self.check_archive("linuxserver", archive, {"cache": "config/cache"})
        self.assertIn("config/log", u.archive_names(archive))

    def test_include_cache_only(self):
        archive = archive_of("windows", "--include-cache")
        self.check_archive("windows", archive, {"log": "data/log"})
        self.assertIn("data/cache/transcodes", u.archive_names(archive))

    def test_transcode_dir_inside_a_tree(self):
        # encoding.xml puts transcodes inside the data tree (not in the cache): left out too.
        root = u.copy_tree(pristine("docker"), self.tmp / "root")
        enc = root / "config/config/encoding.xml"
        text = enc.read_text()
        self.assertIn("<TranscodingTempPath>/cache/transcodes</TranscodingTempPath>", text)
        enc.write_text(text.replace("/cache/transcodes", "/config/transcodes"))
        u.write_file(root / "config/transcodes/abc123.ts", b"segment" * 100)
        out = self.mkdir("out")
        self.jb("create", "--root", root, "--output", out / "a.tar.zst", "--quiet")
        m = self.manifest(out / "a.tar.zst")
        self.assertIn({"kind": "transcodes", "path": "data/transcodes",
                       "source": os.path.realpath(root / "config/transcodes")}, m["left_out"])
        names = u.archive_names(out / "a.tar.zst")
        self.assertEqual([n for n in names if n.startswith("data/transcodes")], [])
        self.jb("create", "--root", root, "--output", out / "b.tar.zst", "--quiet",
                "--include-cache")
        self.assertIn("data/transcodes/abc123.ts", u.archive_names(out / "b.tar.zst"))
        self.assertNotIn("transcodes", [e["kind"] for e in self.manifest(out / "b.tar.zst")
                                        ["left_out"]])


class RestoreNested(NestedCase):
    def roundtrip(self, layout: str, *flags):
        outer, inner, rel = NESTING[layout]
        src = tree_dirs(pristine(layout), layout)
        root = self.target(layout)
        dst = tree_dirs(root, layout)
        parent = dst[outer].parent
        before = u.snapshot(dst[outer])
        listing = u.list_dir(parent)
        res = self.jb("restore", archive_of(layout, *flags), "--root", root, "--json")

        skip = [] if flags else self.left_out_rel(layout)
        self.assertSameTree(src[outer], dst[outer], skip, res)
        self.assertSameTree(src[inner], dst[inner], res=res)
        # The old install kept whole, as ONE backup of the outer tree (inodes and all: moved).
        baks = r.backups(parent)
        self.assertEqual(baks, r.backups(parent, dst[outer].name), res.describe())
        self.assertEqual(len(baks), 1, f"expected one {dst[outer].name}.bak-* in "
                         f"{u.list_dir(parent)}\n{res.describe()}")
        # What the archive left out (log, cache) is kept from the tree it replaced: the very
        # files (hard links: they gained a link), in the restored tree as in the old one.
        kept = [p.encode() for p in skip if os.path.lexists(parent / baks[0] / p)]
        self.assertEqual(kept, [p.encode() for p in skip], "the target install has them")
        for p in kept:  # files linked, directories made alike
            self.assertEqual(r.snapshot_diff(r.dirs_anew(u.snapshot(parent / baks[0] / p.decode())),
                                             r.dirs_anew(u.snapshot(dst[outer] / p.decode()))), [])
        self.assertEqual(r.snapshot_diff(r.without_nlink(before, kept),
                                         r.without_nlink(u.snapshot(parent / baks[0]), kept)), [])
        if not flags:
            by_tree = {t["name"]: t for t in res.json()["trees"]}
            self.assertEqual(sorted(k["path"] for t in by_tree.values() for k in t["kept"]),
                             sorted(LEFT_OUT[layout].values()))
        self.assertEqual(sorted(set(u.list_dir(parent)) - set(listing)), baks)
        self.assertEqual(r.leftovers(parent), [])
        self.assertEqual(r.leftovers(dst[outer]), [])

        j = res.json()
        self.assertIs(j["ok"], True)
        trees = {t["name"]: t for t in j["trees"]}
        self.assertEqual(trees[inner]["target"], os.path.realpath(dst[inner]))
        self.assertEqual(trees[outer]["target"], os.path.realpath(dst[outer]))
        self.assertEqual(trees[inner]["inside"], outer)
        self.assertIsNone(trees[outer]["inside"])
        self.assertEqual(trees[outer]["backup"], str(os.path.realpath(parent / baks[0])))

    def test_roundtrip(self):
        for layout in NESTING:
            with self.subTest(layout=layout):
                self.roundtrip(layout)

    def test_roundtrip_with_logs_and_cache(self):
        for layout in ("linuxserver", "windows"):  # both kinds of nesting, log and cache inside
            with self.subTest(layout=layout):
                self.roundtrip(layout, *INCLUDE_ALL)

    def test_restore_into_missing_nested_targets(self):
        # An empty volume: --install says the layout, restore creates both trees, nested.
        root = self.mkdir("root")
        (root / "config").mkdir()
        self.jb("restore", archive_of("hotio"), "--root", root, "--install", "hotio", "--quiet")
        src = tree_dirs(pristine("hotio"), "hotio")
        dst = tree_dirs(root, "hotio")
        self.assertSameTree(src["config"], dst["config"], self.left_out_rel("hotio"))
        self.assertSameTree(src["data"], dst["data"])
        self.assertEqual(u.list_dir(root / "config"), ["app"], "no backup, no staging left")

    def test_only_inner_tree(self):
        for layout in ("docker", "linuxserver"):
            with self.subTest(layout=layout):
                outer, inner, rel = NESTING[layout]
                src = tree_dirs(pristine(layout), layout)
                root = self.target(layout)
                dst = tree_dirs(root, layout)
                old_inner = u.snapshot(dst[inner])
                before = u.snapshot(dst[outer])
                res = self.jb("restore", archive_of(layout), "--root", root, "--only", inner,
                              "--json")
                self.assertSameTree(src[inner], dst[inner], res=res)
                # The old inner tree is kept, beside it; nothing else of the outer tree changed.
                baks = r.backups(dst[inner].parent, dst[inner].name)
                self.assertEqual(len(baks), 1, f"{u.list_dir(dst[inner].parent)}\n"
                                 + res.describe())
                self.assertEqual(r.snapshot_diff(old_inner,
                                                 u.snapshot(dst[inner].parent / baks[0])), [])
                after = u.snapshot(dst[outer])
                keep = lambda snap: {k: v for k, v in snap.items()
                                     if k and not (k == rel.encode() or
                                                   k.startswith(rel.encode() + b"/") or
                                                   k.startswith(baks[0].encode()))}
                self.assertEqual(r.snapshot_diff(keep(before), keep(after)), [])
                self.assertEqual([t["name"] for t in res.json()["trees"]], [inner])
                self.assertEqual(r.leftovers(dst[inner].parent), [])

    def test_only_outer_tree_refused(self):
        for layout in ("docker", "linuxserver"):
            with self.subTest(layout=layout):
                outer, inner, rel = NESTING[layout]
                root = self.target(layout)
                before = u.snapshot(root)
                res = self.jb("restore", archive_of(layout), "--root", root, "--only", outer,
                              expect=None)
                self.assertFails(res, 2, "--only", outer)
                self.assertEqual(r.snapshot_diff(before, u.snapshot(root)), [],
                                 "a refused restore changed the install")

    def test_dry_run_changes_nothing(self):
        root = self.target("linuxserver")
        config = tree_dirs(root, "linuxserver")["config"]
        before, listing = u.snapshot(config), u.list_dir(root)
        res = self.jb("restore", archive_of("linuxserver"), "--root", root, "--dry-run",
                      "--json")
        self.assertIs(res.json()["ok"], True)
        self.assertEqual(r.snapshot_diff(before, u.snapshot(config)), [])
        self.assertEqual(u.list_dir(root), listing)


class CrossLayout(NestedCase):
    """An archive moves between a layout with separate trees and a nested one."""

    def test_debian_archive_into_docker(self):
        src = tree_dirs(pristine("debian"), "debian")
        archive = archive_of("debian")
        self.assertEqual([t.get("inside") for t in self.manifest(archive)["trees"]], [None, None])
        root = self.target("docker")
        dst = tree_dirs(root, "docker")
        res = self.jb("restore", archive, "--root", root, "--json")
        # The debian data tree, with the config tree nested where docker keeps it.
        self.assertSameTree(src["data"], dst["data"], ["config"], res)
        self.assertSameTree(src["config"], dst["config"], res=res)
        self.assertEqual(u.list_dir(root), sorted(["cache", "config"] + r.backups(root)))
        self.assertEqual(len(r.backups(root, "config")), 1, u.list_dir(root))
        self.assertEqual(r.leftovers(root), [])

    def test_docker_archive_into_debian(self):
        src = tree_dirs(pristine("docker"), "docker")
        root = self.target("debian")
        dst = tree_dirs(root, "debian")
        res = self.jb("restore", archive_of("docker"), "--root", root, "--json")
        # Side by side again: the data tree without the config tree (nor the logs left out).
        self.assertSameTree(src["data"], dst["data"], ["config", "log"], res)
        self.assertFalse(os.path.lexists(dst["data"] / "config"))
        self.assertSameTree(src["config"], dst["config"], res=res)
        for d in (dst["data"], dst["config"]):
            self.assertEqual(len(r.backups(d.parent, d.name)), 1, u.list_dir(d.parent))
            self.assertEqual(r.leftovers(d.parent), [])

    def test_other_nesting_both_ways(self):
        # Config inside data (docker) into data inside config (linuxserver), and back.
        for src_layout, dst_layout in (("docker", "linuxserver"), ("linuxserver", "docker")):
            with self.subTest(src=src_layout, dst=dst_layout):
                src = tree_dirs(pristine(src_layout), src_layout)
                root = self.target(dst_layout)
                dst = tree_dirs(root, dst_layout)
                res = self.jb("restore", archive_of(src_layout), "--root", root, "--json")
                src_outer, _, src_rel = NESTING[src_layout]
                dst_outer, _, dst_rel = NESTING[dst_layout]
                for tree in ("config", "data"):
                    # Leave out the other tree where it is nested, and what the archive left out.
                    skip = []
                    if tree == src_outer:
                        skip += [src_rel] + self.left_out_rel(src_layout)
                    if tree == dst_outer:
                        skip.append(dst_rel)
                    self.assertSameTree(src[tree], dst[tree], skip, res)
                self.assertEqual(len(r.backups(root, "config")), 1, u.list_dir(root))
                self.assertEqual(r.leftovers(root), [])

    def test_only_outer_tree_into_separate_targets(self):
        # The archive's trees are nested, the targets are not: --only data is fine there.
        src = tree_dirs(pristine("docker"), "docker")
        root = self.target("debian")
        dst = tree_dirs(root, "debian")
        config_before = u.snapshot(dst["config"])
        res = self.jb("restore", archive_of("docker"), "--root", root, "--only", "data")
        self.assertSameTree(src["data"], dst["data"], ["config", "log"], res)
        self.assertEqual(r.snapshot_diff(config_before, u.snapshot(dst["config"])), [])

    def test_only_outer_tree_into_nested_targets_of_separate_archive(self):
        # The archive's trees are separate, the targets nested: --only data would replace the
        # config tree too.
        root = self.target("docker")
        before = u.snapshot(root)
        res = self.jb("restore", archive_of("debian"), "--root", root, "--only", "data",
                      expect=None)
        self.assertFails(res, 2, "--only")
        self.assertEqual(r.snapshot_diff(before, u.snapshot(root)), [])

    def test_data_tree_with_its_own_config_dir_refused(self):
        # Separate trees in the archive, but the data tree has a config/ of its own: restored
        # into docker, the config tree would have to go where that directory is. Refused, and
        # nothing changes.
        config, data = u.make_basic_trees(self.mkdir("src"))
        u.write_file(data / "config" / "stray.txt", b"data's own config dir\n")
        archive = self.create_archive(config, data, "--server-version", "10.11.0")
        root = self.target("docker")
        before = u.snapshot(root)
        res = self.jb("restore", archive, "--root", root, expect=None)
        self.assertFails(res, 4, "config")
        # (The staging directory came and went beside the target: ROOT's mtime may change.)
        self.assertEqual(r.snapshot_diff({k: v for k, v in before.items() if k},
                                         {k: v for k, v in u.snapshot(root).items() if k}), [])
        self.assertEqual(r.leftovers(root), [])
        self.assertEqual(r.leftovers(root / "config"), [])


class ExplicitNested(NestedCase):
    """Nested trees given with --data and --config (no known layout)."""

    def test_log_dir_inside_the_inner_tree(self):
        # The log dir lies in the config tree, which lies in the data tree: left out under the
        # config tree's own archive directory; the cache (<data>/cache) under data's.
        config, data = u.make_basic_trees(self.mkdir("src"))
        os.rename(config, data / "config")
        config = data / "config"
        log = u.write_file(config / "log" / "log_20261120.log",
                           b'[14:24:38] [INF] [10] Main: Jellyfin version: 10.11.8\n')
        u.write_file(data / "cache" / "images" / "a.jpg", b"resized")
        out = self.mkdir("out")
        res = u.run(["create", "--data", data, "--config", config, "--output", out / "a.tar.zst",
                     "--quiet"], env=u.install_env(JELLYFIN_LOG_DIR=config / "log"))
        self.assertExit(res, 0)
        m = self.manifest(out / "a.tar.zst")
        self.assertEqual(sorted((e["kind"], e["path"], e["source"]) for e in m["left_out"]),
                         [("cache", "data/cache", os.path.realpath(data / "cache")),
                          ("log", "config/log", os.path.realpath(config / "log"))])
        self.assertEqual(m["app"]["version"], "10.11.8")
        self.assertEqual(m["app"]["version_source"], "log " + os.path.realpath(log))
        names = u.archive_names(out / "a.tar.zst")
        self.assertEqual([n for n in names if "log" in n.split("/") or "cache" in n.split("/")
                          or n.startswith("data/config")], [])
        self.assertIn("config/system.xml", names)


class SwappedTrees(NestedCase):
    def test_archive_with_swapped_markers_refused(self):
        # An archive whose config tree holds .jellyfin-data (and data .jellyfin-config): restored,
        # Jellyfin would not start. Refused (exit 4), nothing restored, nothing left behind.
        b = r.ArchiveBuilder()
        b.dir("config").file("config/.jellyfin-data").file("config/jellyfin.db", b"SQLite")
        b.dir("data").file("data/.jellyfin-config").file("data/system.xml", b"<x/>")
        archive = b.archive(self.tmp / "swapped.tar.zst")
        srv = self.mkdir("srv")
        res = u.run(["restore", archive, "--config", srv / "config", "--data", srv / "data"])
        self.assertFails(res, 4, ".jellyfin-data")
        self.assertEqual(u.list_dir(srv), [])


class GnuTar(NestedCase):
    def test_gnu_tar_extracts_trees_side_by_side(self):
        src = tree_dirs(pristine("docker"), "docker")
        ext = self.extract_with_tar(archive_of("docker"))
        self.assertEqual(u.list_dir(ext), ["CHECKSUMS.xxh128", "MANIFEST.json", "config", "data"])
        self.assertEqual(u.compare_trees(src["config"], ext / "config"), [])
        self.assertEqual(u.compare_trees(src["data"], ext / "data", skip_paths=["config", "log"]),
                         [])
        self.assertNotIn("config", u.list_dir(ext / "data"))
        proc = u.tool(["xxh128sum", "-c", "--quiet", "CHECKSUMS.xxh128"], cwd=ext, check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
