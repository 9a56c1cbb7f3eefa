#!/usr/bin/env bash
# The README's first command: install, build, then back up, verify, inspect
# and restore a generated Jellyfin-like install, and get the data back once
# more with nothing but GNU tar, zstd and xxh128sum.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build jellyfin-backup >/dev/null
bin=build/jellyfin-backup

work=$(mktemp -d "${TMPDIR:-/tmp}/jellyfin-backup-demo.XXXXXX")
echo "== Generating a sample Jellyfin install in $work/server"
python3 scripts/make-sample-tree.py "$work/server" --scale small
mkdir "$work/backups"

echo; echo "== jellyfin-backup create"
$bin create --config "$work/server/config" --data "$work/server/data" \
  --output "$work/backups" --server-version 10.11.0
archive=$(ls "$work"/backups/jellyfin.*.tar.zst)

echo; echo "== jellyfin-backup verify"
$bin verify "$archive"

echo; echo "== jellyfin-backup inspect"
$bin inspect "$archive"

echo; echo "== A bad upgrade: the server's trees change; jellyfin-backup restore"
echo "broken by an upgrade" > "$work/server/config/system.xml"
rm -rf "$work/server/data/metadata"
$bin restore "$archive" --config "$work/server/config" --data "$work/server/data" --dry-run
$bin restore "$archive" --config "$work/server/config" --data "$work/server/data"
ls -d "$work"/server/*.bak-*

echo; echo "== Recovering with only GNU tar, zstd and xxh128sum"
mkdir "$work/recovered"
tar --zstd -xpf "$archive" -C "$work/recovered" --xattrs --xattrs-include='*' --numeric-owner \
  --warning=no-unknown-keyword
(cd "$work/recovered" && xxh128sum --quiet -c CHECKSUMS.xxh128) && echo "xxh128sum -c: every file OK"
diff -r --no-dereference "$work/server/config" "$work/recovered/config" >/dev/null 2>&1 &&
  diff -r --no-dereference "$work/server/data" "$work/recovered/data" >/dev/null 2>&1 &&
  echo "tar's extraction is identical to the restored trees"

echo; echo "== A damaged copy is caught (exit 3)"
cp "$archive" "$work/damaged.tar.zst"
size=$(stat -c %s "$work/damaged.tar.zst")
printf '\xff' | dd of="$work/damaged.tar.zst" bs=1 seek=$((size / 2)) conv=notrunc status=none
set +e
$bin verify "$work/damaged.tar.zst"
echo "verify exit code: $?"
set -e
echo; echo "Demo files are in $work (remove with: rm -rf $work)"
