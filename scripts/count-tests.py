#!/usr/bin/env python3
"""Counts a meson test log (testlog JSON) as passed/failed/skipped tests.

A program that speaks TAP (the cmocka suites) counts one test per TAP line;
any other program counts as one test by its result. A program that crashed
or timed out after printing some TAP still counts one failure for itself.
Prints "P F S" on stdout.
"""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        t = json.loads(line)
        result = t.get("result", "")
        out = t.get("stdout", "") or ""
        tap = [l for l in out.splitlines() if re.match(r"(not )?ok\b", l)]
        if tap:
            for l in tap:
                if re.search(r"#\s*skip", l, re.I):
                    skipped += 1
                elif l.startswith("ok"):
                    passed += 1
                else:
                    failed += 1
            if result not in ("OK", "SKIP", "EXPECTEDFAIL") and \
                    not any(l.startswith("not ok") for l in tap):
                failed += 1
        elif result == "OK" or result == "EXPECTEDFAIL":
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(passed, failed, skipped)
