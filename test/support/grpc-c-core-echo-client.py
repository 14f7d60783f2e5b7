"""gRPC C-core (Python grpcio) proxyless xDS client for tests: N unary calls to mizzen.test.Echo/Echo
on an xds:/// target, optionally with header HEADER: yes; prints {"counts": {backend: n}, "errors", "last"}."""
import collections
import json
import sys

import grpc

target, calls = sys.argv[1], int(sys.argv[2])
header = sys.argv[3] if len(sys.argv) > 3 else None
channel = grpc.insecure_channel(target)
echo = channel.unary_unary('/mizzen.test.Echo/Echo', request_serializer=lambda b: b, response_deserializer=lambda b: b)
counts = collections.Counter()
errors = 0
last = ''
for _ in range(calls):
    try:
        reply = echo(b'\x0a\x02hi', metadata=[(header, 'yes')] if header else None, timeout=10)
        i = reply.find(b'\x12')  # EchoReply.backend: field 2, length-delimited
        counts[reply[i + 2:i + 2 + reply[i + 1]].decode()] += 1
    except Exception as e:  # noqa: BLE001 - report, do not crash
        errors += 1
        last = str(e)[:500]
channel.close()
print(json.dumps({'counts': counts, 'errors': errors, 'last': last}))
