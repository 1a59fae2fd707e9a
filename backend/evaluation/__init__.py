"""Quality protocols' fixed data splits, test scenes and judges (scripts, tests)."""
