#include "jellyfin_backup/archive/sidecar.h"

#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/store.h"

namespace jb {

std::string sidecar_name(const std::string& archive_name) { return archive_name + ".xxh128"; }

std::string format_sidecar(const std::string& hex, const std::string& archive_name) {
  // The same line CHECKSUMS.xxh128 uses: what `xxh128sum ARCHIVE` prints.
  return format_checksum_line(hex, archive_name);
}

std::optional<std::string> parse_sidecar(const std::string& text, const std::string& archive_name) {
  std::vector<ChecksumLine> lines;
  try {
    lines = parse_checksum_list(text);
  } catch (const Error&) {
    return std::nullopt;  // the caller reports "invalid"; the parse error adds nothing
  }
  if (lines.size() != 1) return std::nullopt;
  const std::string& path = lines[0].path;
  // `xxh128sum /srv/backups/x.tar.zst > x.tar.zst.xxh128` writes the path
  // as given; the name is what identifies the archive.
  const bool names_it =
      path == archive_name ||
      (path.size() > archive_name.size() &&
       path.compare(path.size() - archive_name.size(), archive_name.size(), archive_name) == 0 &&
       path[path.size() - archive_name.size() - 1] == '/');
  if (!names_it) return std::nullopt;
  return lines[0].hex;
}

void write_sidecar(const Store& store, const std::string& archive_name, const std::string& hex) {
  store.write_small(sidecar_name(archive_name), format_sidecar(hex, archive_name));
}

std::size_t HashingSource::read(void* buffer, std::size_t size) {
  const std::size_t n = inner_.read(buffer, size);
  hash_.update(buffer, n);
  bytes_ += n;
  return n;
}

void HashingSink::write(const void* data, std::size_t size) {
  inner_.write(data, size);
  hash_.update(data, size);
  bytes_ += size;
}

}  // namespace jb
