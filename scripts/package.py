"""Build a zip that Krita's "Tools > Scripts > Import Python Plugin from File…" accepts.

    python scripts/package.py krita-zip dist/neural_layer_filters-krita.zip

The code is ``backend.installers.package`` (the installers use it too).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.installers.package import main

if __name__ == "__main__":
    sys.exit(main())
