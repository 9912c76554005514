#!/usr/bin/env bash
# Fetch vtest.avi (real campus footage, 795 frames, 768x576, no annotations) from Debian's
# opencv-doc package into data/real/, for the real-footage tests (pytest -m slow) and for trying
# `personsearch search` on real video. Needs apt-get (Debian/Ubuntu) and the package mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
target=data/real/vtest.avi
if [[ -f "$target" ]]; then
    echo "$target already present"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download opencv-doc >/dev/null)
dpkg-deb -x "$work"/opencv-doc_*.deb "$work/x"
mkdir -p data/real
cp "$work/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$target.tmp"
mv "$target.tmp" "$target"
echo "wrote $target"
