"""gRPC C-core (python3-grpcio) proxyless xDS *server* for end-to-end tests: its listener, mTLS
and RBAC come from discovery (bootstrap from GRPC_XDS_BOOTSTRAP). Prints "listening PORT".
Usage: python3 ccore_echo_server.py PORT NAME
"""
import signal
import sys
from concurrent import futures

import grpc


def main() -> None:
    port, name = int(sys.argv[1]), sys.argv[2]
    reply = b"\x0a\x02hi\x12" + bytes([len(name)]) + name.encode()

    def echo(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        return reply

    handler = grpc.method_handlers_generic_handler(
        "mizzen.test.Echo",
        {"Echo": grpc.unary_unary_rpc_method_handler(echo, request_deserializer=lambda b: b, response_serializer=lambda b: b)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), xds=True)
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.xds_server_credentials(grpc.insecure_server_credentials())
    server.add_secure_port(f"0.0.0.0:{port}", creds)
    server.start()
    sys.stdout.write(f"listening {port}\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
