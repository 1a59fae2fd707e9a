# In-GIMP checks of the Neural Layer Filters plug-in, executed by python-fu-eval:
#   gimp-console-3.0 -i --no-data --no-fonts --batch-interpreter=python-fu-eval \
#       -b 'exec(open("/opt/nlf/tests/run_checks.py").read())' --quit
# The checks live in procedure_checks.py, pixel_checks.py and npe_checks.py beside this file
# (see harness.py).
import json
import os
import sys

with open(os.environ["NLF_PLAN"]) as _fh:
    sys.path.insert(0, json.load(_fh)["tests_dir"])

import harness
import npe_checks  # noqa: F401
import pixel_checks  # noqa: F401  (importing registers its checks)
import procedure_checks  # noqa: F401

harness.settings(harness.PLAN["server"])
harness.run_all("report.json", "NLF_GIMP_CHECKS_OK")
