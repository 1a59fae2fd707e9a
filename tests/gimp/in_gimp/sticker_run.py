# The ``dtn`` face-sticker check inside GIMP (tests/gimp/test_real_sticker.py runs it):
#   gimp-console-3.0 -i --no-data --no-fonts --batch-interpreter=python-fu-eval \
#       -b 'exec(open("/opt/nlf-sticker/tests/sticker_run.py").read())' --quit
import json
import os
import sys

with open(os.environ["NLF_PLAN"]) as _fh:
    sys.path.insert(0, json.load(_fh)["tests_dir"])

import harness
import sticker_checks  # noqa: F401  (importing registers its check)

harness.settings(harness.PLAN["server"])
harness.run_all("sticker_report.json", "NLF_STICKER_OK")
