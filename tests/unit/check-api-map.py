#!/usr/bin/env python3
"""Every row of docs/api-map.md names a C function declared in the headers,
and every call the spec lists has a row. Usage: check-api-map.py SRCROOT"""
import re
import sys

root = sys.argv[1]
headers = "".join(open(f"{root}/include/netdirect/{h}").read()
                  for h in ("nd.h", "nd_status.h", "nd_provider.h"))
rows = re.findall(r"^\| *([A-Za-z0-9:]+) *\| *([a-z_.0-9]+) *\|",
                  open(f"{root}/docs/api-map.md").read(), re.M)
missing = []
for nd, c in rows:
    if "." in c:  # a provider-interface member: struct.member
        struct, member = c.split(".")
        ok = re.search(r"struct %s \{.*?\(\*%s\)" % (struct, member),
                       headers, re.S)
    else:
        ok = re.search(r"\b%s\(" % re.escape(c), headers)
    if not ok:
        missing.append(f"{nd} -> {c}")

# The ND calls of spec/nd-spi-v2.md, by interface (IUnknown's left out).
spec = {
    "IND2Provider": "QueryAddressList ResolveAddress OpenAdapter",
    "IND2Overlapped": "CancelOverlappedRequests GetOverlappedResult",
    "IND2Adapter": "CreateOverlappedFile Query QueryAddressList "
                   "CreateCompletionQueue CreateMemoryRegion "
                   "CreateMemoryWindow CreateSharedReceiveQueue "
                   "CreateQueuePair CreateQueuePairWithSrq CreateConnector "
                   "CreateListener",
    "IND2CompletionQueue": "GetNotifyAffinity Resize Notify GetResults",
    "IND2MemoryRegion": "Register Deregister GetLocalToken GetRemoteToken",
    "IND2MemoryWindow": "GetRemoteToken",
    "IND2SharedReceiveQueue": "GetNotifyAffinity Modify Notify Receive",
    "IND2QueuePair": "Flush Send Receive Bind Invalidate Read Write",
    "IND2Connector": "Bind Connect CompleteConnect Accept Reject "
                     "GetReadLimits GetPrivateData GetLocalAddress "
                     "GetPeerAddress NotifyDisconnect Disconnect",
    "IND2Listener": "Bind Listen GetLocalAddress GetConnectionRequest",
}
framework = ("NdStartup NdCleanup NdFlushProviders NdQueryAddressList "
             "NdResolveAddress NdCheckAddress NdOpenAdapter NdOpenV1Adapter")
mapped = {nd for nd, _ in rows}
wanted = framework.split() + [f"{i}::{m}" for i, ms in spec.items()
                              for m in ms.split()]
unmapped = [w for w in wanted if w not in mapped]

print("1..2")
print(("ok" if not missing else "not ok") + " 1 - every row's C function is declared")
for m in missing:
    print("#   not declared:", m)
print(("ok" if not unmapped else "not ok") + " 2 - every ND call has a row")
for u in unmapped:
    print("#   no row:", u)
sys.exit(1 if missing or unmapped else 0)
