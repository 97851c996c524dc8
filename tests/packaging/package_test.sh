#!/usr/bin/env bash
# The Debian package as a user installs it: cpack builds the .deb from the
# build tree; unpacked into a scratch root, its binary answers `vigil
# version` and checks the packaged warehouse example; every shared library
# the binary needs comes from a package the .deb declares.
#   package_test.sh BUILD_DIR WORKDIR
set -uo pipefail
build=$(realpath "$1")
work=$2
rm -rf "$work" && mkdir -p "$work"
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

if ! (cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1); then
  fail "cpack"; tail -20 "$work/cpack.log"; exit 1
fi
deb=$(ls "$work"/out/vigil_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && ok "package built: $(basename "$deb")" || { fail "no .deb in $work/out"; exit 1; }
dpkg-deb -x "$deb" "$work/root" && ok "unpacked" || fail "dpkg-deb -x"
bin="$work/root/usr/bin/vigil"
out=$("$bin" version 2>&1) && ok "installed binary: $out" || fail "vigil version: $out"
ex="$work/root/usr/share/doc/vigil/examples/warehouse/rules.yaml"
out=$("$bin" check "$ex" 2>&1) && ok "vigil check of the packaged example: $out" || fail "vigil check $ex: $out"
[ -f "$work/root/usr/lib/systemd/system/vigil.service" ] && ok "systemd unit installed" || fail "no systemd unit"
[ -f "$work/root/usr/share/doc/vigil/durability.md" ] && ok "docs installed" || fail "no docs"
depends=$(dpkg-deb -f "$deb" Depends)
# Every library the binary links directly (NEEDED; what those need in turn is
# their own packages' Depends, as dpkg-shlibdeps sees it), resolved by ldd,
# outside libc/libstdc++ must belong to a declared package.
needed=$(readelf -d "$bin" | awk -F'[][]' '/NEEDED/{print $2}' | tr '\n' ' ')
missing=""
while read -r lib; do
  pkg=""
  for path in "$lib" "/usr$lib" "$(realpath "$lib")"; do  # usrmerge: dpkg may know /usr/lib only
    [ -z "$pkg" ] && pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
  done
  [ -z "$pkg" ] && continue
  case "$pkg" in libc6|libgcc-s1|libstdc++6|libssl3|zlib1g|libzstd1|liblz4-1|libsnappy1v5|libbz2-1.0|liblzma5|libgflags2.2|libjemalloc2|libuuid1|libtbb12|libnuma1|liburing2) continue;; esac
  case ", $depends," in *", $pkg,"*|*", $pkg "*) ;; *) missing="$missing $pkg";; esac
done < <(ldd "$bin" | awk -v needed=" $needed" '/=> \// && index(needed, " " $1 " ") {print $3}')
[ -z "$missing" ] && ok "Depends covers the linked libraries ($depends)" || fail "Depends lacks:$missing"

echo "$fails failed"
[ "$fails" -eq 0 ]
