"""Write the real evaluation set (vtest.avi, identities checked by eye) in PRW's layout.

    bash scripts/fetch_vtest.sh                     # data/real/vtest.avi
    python scripts/build_real_set.py                # -> data/real/vtest-prw/

The annotation ships in the package (personsearch/data/real/vtest_annotations.json); this script
only extracts the annotated frames from the video. How the set was made: docs/real_set.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from personsearch.data.real.vtest import build_real_set, load_real_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=Path("data/real/vtest.avi"))
    parser.add_argument("--out", type=Path, default=Path("data/real/vtest-prw"))
    args = parser.parse_args()
    if not args.video.is_file():
        raise SystemExit(f"{args.video} not found; fetch it with: bash scripts/fetch_vtest.sh")
    root = build_real_set(args.video, args.out)
    data = load_real_set(root)
    labelled = sum(int((record.pids >= 0).sum()) for record in data.gallery)
    boxes = sum(len(record.boxes) for record in data.gallery)
    print(f"wrote {root}: {len(data.gallery)} frames, {boxes} boxes ({labelled} with an identity), "
          f"{len(data.queries)} queries")


if __name__ == "__main__":
    main()
