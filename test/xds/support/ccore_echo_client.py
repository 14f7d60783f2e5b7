"""gRPC C-core (python3-grpcio) proxyless xDS client for end-to-end tests.

Bootstrap from GRPC_XDS_BOOTSTRAP_CONFIG or GRPC_XDS_BOOTSTRAP. Reads commands on stdin, one JSON
per line: {"calls": N, "header": "x-canary"?, "deadlineMs": 5000?, "target": "xds:///..."?,
"creds": "xds"|"insecure"?}; answers
{"counts": {backend: n}, "errors": n, "codes": {STATUS_NAME: n}, "lastError": str}.
With MIZZEN_XDS_CREDS=1 the channel uses xDS credentials (mTLS as the clusters say).
Usage: python3 ccore_echo_client.py TARGET
"""
import json
import os
import sys

import grpc
import grpc.experimental


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
    default_target = sys.argv[1]
    default_creds = "xds" if os.environ.get("MIZZEN_XDS_CREDS") == "1" else "insecure"
    channels: dict = {}

    def stub(target: str, kind: str):
        key = (target, kind)
        if key not in channels:
            if kind == "xds":
                creds = grpc.xds_channel_credentials(fallback_credentials=grpc.experimental.insecure_channel_credentials())
                channel = grpc.secure_channel(target, creds)
            else:
                channel = grpc.insecure_channel(target)
            channels[key] = (channel, channel.unary_unary("/mizzen.test.Echo/Echo", request_serializer=lambda b: b, response_deserializer=decode_backend))
        return channels[key][1]

    for line in sys.stdin:
        cmd = json.loads(line)
        echo = stub(cmd.get("target", default_target), cmd.get("creds", default_creds))
        counts: dict = {}
        codes: dict = {}
        errors = 0
        last_error = ""
        metadata = [(cmd["header"], "yes")] if cmd.get("header") else None
        timeout = cmd.get("deadlineMs", 5000) / 1000
        for _ in range(cmd["calls"]):
            try:
                backend = echo(encode_request(b"hi"), timeout=timeout, metadata=metadata)
                counts[backend] = counts.get(backend, 0) + 1
            except grpc.RpcError as err:  # noqa: PERF203
                errors += 1
                name = err.code().name
                codes[name] = codes.get(name, 0) + 1
                last_error = f"{name}: {err.details()}"
        sys.stdout.write(json.dumps({"counts": counts, "errors": errors, "codes": codes, "lastError": last_error}) + "\n")
        sys.stdout.flush()
    for channel, _ in channels.values():
        channel.close()


if __name__ == "__main__":
    main()
