"""gRPC C-core (python3-grpcio) proxyless xDS client for end-to-end tests.

Bootstrap from GRPC_XDS_BOOTSTRAP_CONFIG. Reads commands on stdin, one JSON per line:
{"calls": N, "header": "x-canary"?}; answers {"counts": {backend: n}, "errors": n, "lastError": str}.
Usage: python3 ccore_echo_client.py TARGET
"""
import json
import sys

import grpc


def encode_request(message: bytes) -> bytes:
    return b"\x0a" + bytes([len(message)]) + message


def decode_backend(data: bytes) -> str:
    i = 0
    backend = ""
    while i < len(data):
        tag = data[i]
        i += 1
        length = data[i]
        i += 1
        value = data[i : i + length]
        i += length
        if tag == 0x12:
            backend = value.decode()
    return backend


def main() -> None:
    target = sys.argv[1]
    channel = grpc.insecure_channel(target)
    echo = channel.unary_unary("/mizzen.test.Echo/Echo", request_serializer=lambda b: b, response_deserializer=decode_backend)
    for line in sys.stdin:
        cmd = json.loads(line)
        counts: dict = {}
        errors = 0
        last_error = ""
        metadata = [(cmd["header"], "yes")] if cmd.get("header") else None
        for _ in range(cmd["calls"]):
            try:
                backend = echo(encode_request(b"hi"), timeout=5, metadata=metadata)
                counts[backend] = counts.get(backend, 0) + 1
            except grpc.RpcError as err:  # noqa: PERF203
                errors += 1
                last_error = f"{err.code()}: {err.details()}"
        sys.stdout.write(json.dumps({"counts": counts, "errors": errors, "lastError": last_error}) + "\n")
        sys.stdout.flush()
    channel.close()


if __name__ == "__main__":
    main()
