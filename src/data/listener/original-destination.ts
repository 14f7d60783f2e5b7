import type * as net from 'node:net';

export interface Destination {
  address: string;
  port: number;
}

/**
 * Where a captured connection was originally going (SO_ORIGINAL_DST under iptables/nft REDIRECT).
 * The real implementation (src/lib/original-dst.ts, getsockopt via koffi) is injected by the
 * composition root; undefined means "not captured" (the local address is the destination).
 */
export interface OriginalDestination {
  lookup(socket: net.Socket): Destination | undefined;
}

/** Not captured: the destination is the socket's own local address. */
export const LOCAL_ADDRESS_DESTINATION: OriginalDestination = Object.freeze({
  lookup: (): Destination | undefined => undefined,
});

/**
 * A test/runtime implementation mapping the client's source address to a destination: a test
 * connects from 127.0.0.N and says "127.0.0.N means 10.96.0.5:9080".
 */
export class SourceAddressDestinationMap implements OriginalDestination {
  private readonly map = new Map<string, Destination>();

  set(sourceAddress: string, dest: Destination): void {
    this.map.set(sourceAddress, dest);
  }

  lookup(socket: net.Socket): Destination | undefined {
    const a = socket.remoteAddress?.replace(/^::ffff:/, '');
    return a === undefined ? undefined : this.map.get(a);
  }
}
