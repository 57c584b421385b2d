#!/usr/bin/env python3
"""Every call declared in nd.h (and nd_strerror) appears in at least one row
of test_bad_input.c's table. Usage: check-rows.py SRCROOT"""
import re
import sys

root = sys.argv[1]
header = open(f"{root}/include/netdirect/nd.h").read()
header += open(f"{root}/include/netdirect/nd_status.h").read()
# A declaration: a name at the start of a line or after a return type,
# followed by its parameter list.
declared = set(re.findall(
    r"^(?:[a-z_0-9 ]+[ *])?(nd_[a-z0-9_]+)\(", header, re.M))

source = open(f"{root}/tests/hardening/test_bad_input.c").read()
table = source[source.index("#define ROWS(X)"):
               source.index("/* One function per row")]
rows = re.findall(r"\bX\((\w+),", table)
# Calls a row makes directly, or through a helper it names.
helpers = {m.group(1): m.group(2) for m in re.finditer(
    r"^static [a-z_ ]+\b(\w+)\([^)]*\)\n\{(.*?)^\}", source, re.M | re.S)}
text = table
for name, body in helpers.items():
    if re.search(r"\b%s\b" % name, table):
        text += body
called = set(re.findall(r"\b(nd_[a-z0-9_]+)\(", text))
missing = sorted(declared - called)

print("1..1")
print(("ok" if not missing else "not ok") +
      f" 1 - {len(rows)} rows cover all {len(declared)} calls of nd.h")
for m in missing:
    print("#   no row calls", m)
sys.exit(1 if missing else 0)
