import * as net from 'node:net';
import type { Logger } from '../../lib/log.ts';
import type { DownstreamConnectionInfo } from '../l7/downstream-connection-info.ts';
import type { HttpRuntime } from '../l7/http-stream.ts';
import type { TcpMetadataExchange } from '../telemetry/tcp-metadata-exchange.ts';
import { plainIp } from '../matchers/cidr.ts';
import type { TlsContextFactory } from '../tls/tls-context-factory.ts';
import { ChainConnection } from './chain-drain.ts';
import { selectFilterChain, type ConnectionFacts } from './filter-chain-selector.ts';
import type { ListenerSpec } from './listener-config.ts';
import { ListenerChains } from './listener-chains.ts';
import { DescriptorOverload, type DescriptorOverloadOptions, type DescriptorSource } from './descriptor-overload.ts';
import type { OriginalDestination } from './original-destination.ts';
import { sniff } from './protocol-sniffer.ts';
import { FilterChainServer } from './filter-chain-server.ts';

interface ActiveListener {
  spec: ListenerSpec;
  server: net.Server | undefined;
  boundPort: number;
  versionInfo: string;
  lastUpdated: string;
}

export interface ListenerManagerDeps {
  runtime: HttpRuntime;
  tls: TlsContextFactory;
  originalDst: OriginalDestination;
  log: Logger;
  /** Address to bind listeners whose address is 0.0.0.0 (tests bind 127.0.0.1). */
  bindAddressOverride?: string;
  /** Port overrides by listener name (tests: 0 for an ephemeral port). */
  portOverride?: (name: string, port: number) => number;
  sniffTimeoutMs?: number;
  /** TCP metadata exchange (istio-peer-exchange) for tcp_proxy chains and clusters that enable it. */
  tcpMetadataExchange?: TcpMetadataExchange;
  /**
   * How long connections on a removed or changed filter chain may finish before they are closed
   * (Envoy's --drain-time-s, Istio's ProxyConfig drainDuration); default 45 s.
   */
  drainDurationMs?: number;
  /**
   * Where descriptor use is read (RLIMIT_NOFILE and /proc/self/fd): with it, the open-files
   * overload monitor runs (idle connections closed under pressure, accept failures counted).
   */
  descriptors?: DescriptorSource;
  overload?: Partial<Omit<DescriptorOverloadOptions, 'source' | 'connections' | 'log'>>;
}

/** What the maker of an internal connection knows about it. */
export interface InternalDownstream {
  destinationIp: string;
  destinationPort: number;
  sourceIp: string;
  sourcePort: number;
  /** The downstream's verified identity (`spiffe://...`), '' when none. */
  peerPrincipal: string;
  localPrincipal: string;
}

/** Istio's default ProxyConfig drainDuration. */
export const DEFAULT_DRAIN_DURATION_MS = 45_000;

/**
 * Listeners from LDS: binds those with bind_to_port, hands captured connections to the listener
 * of their original destination (use_original_dst), sniffs TLS/HTTP when chains need it, picks
 * the filter chain, terminates TLS and runs the chain's network filters and terminal filter.
 *
 * Updates apply as Envoy applies them: a listener updated in place keeps its socket and new
 * connections get the new filter chains at once; a chain whose config is unchanged keeps its
 * connections; connections on a chain the update removes or changes (its RBAC, mTLS mode, JWT,
 * access log...) are drained — HTTP/1.1 answers its next response with `connection: close`,
 * HTTP/2 gets GOAWAY — and closed when the drain period ends (TCP included). A changed listener
 * address or listener-level setting, or a removed listener, drains all of its chains. Route
 * configurations (RDS) are looked up per request, so they reach the next request on any connection.
 */
export class ListenerManager {
  private readonly deps: ListenerManagerDeps;
  readonly listeners = new Map<string, ActiveListener>();
  /** Filter chains and their connections across listener updates (drained as Envoy drains them). */
  private readonly chains: ListenerChains;
  /** A connection on its chain: TLS, network filters, tcp_proxy or HTTP (filter-chain-server.ts). */
  private readonly server: FilterChainServer;
  private readonly sockets = new Set<net.Socket>();
  private draining = false;
  /** SIGTERM's graceful phase: connections on inbound chains are drained as they come. */
  private drainingInbound = false;
  /** When an inbound connection was last accepted (graceful termination waits for quiet). */
  private lastInboundAccept = 0;
  /** admin /drain_listeners: listeners of these directions stay closed (ALL: every listener). */
  private stopped: 'ALL' | 'INBOUND' | undefined;
  /** Number of bind operations still in progress (for readiness). */
  pendingBinds = 0;
  /** The open-files overload monitor (undefined without `deps.descriptors`). */
  readonly overload: DescriptorOverload | undefined;


  constructor(deps: ListenerManagerDeps) {
    this.deps = deps;
    this.chains = new ListenerChains(deps.drainDurationMs ?? DEFAULT_DRAIN_DURATION_MS, deps.log);
    this.server = new FilterChainServer({ runtime: deps.runtime, tls: deps.tls, log: deps.log, tcpMetadataExchange: deps.tcpMetadataExchange, isDraining: () => this.draining });
    if (deps.descriptors) {
      this.overload = new DescriptorOverload({ ...deps.overload, source: deps.descriptors, connections: () => this.sockets, log: deps.log });
      this.overload.start();
    }
  }

  apply(specs: readonly ListenerSpec[], removed: readonly string[], full: boolean, version: string): void {
    const names = new Set(specs.map((s) => s.name));
    for (const incoming of specs) {
      const existing = this.listeners.get(incoming.name);
      const now = new Date().toISOString();
      if (existing && existing.spec.address === incoming.address && existing.spec.port === incoming.port && existing.spec.bindToPort === incoming.bindToPort) {
        existing.versionInfo = version;
        if (JSON.stringify(existing.spec.raw) === JSON.stringify(incoming.raw)) continue;
        existing.lastUpdated = now;
        existing.spec = this.chains.update(existing.spec, incoming);
        continue;
      }
      if (existing) {
        this.closeListener(existing);
        this.chains.retire(existing.spec);
      }
      const active: ActiveListener = { spec: incoming, server: undefined, boundPort: incoming.port, versionInfo: version, lastUpdated: now };
      this.listeners.set(incoming.name, active);
      if (incoming.bindToPort && !this.draining && !this.isStopped(incoming)) this.bind(active);
    }
    const drop = full ? [...this.listeners.keys()].filter((n) => !names.has(n)) : removed;
    for (const n of drop) {
      const l = this.listeners.get(n);
      if (l) {
        this.closeListener(l);
        this.chains.retire(l.spec);
      }
      this.listeners.delete(n);
    }
  }

  /** Filter chains draining now (admin, tests). */
  get chainsDraining(): number {
    return this.chains.drainingCount;
  }

  /** Open connections per listener and chain state (admin, tests). */
  connectionCounts(listener: string): { active: number; draining: number } {
    return this.chains.counts(this.listeners.get(listener)?.spec);
  }

  /** The port a listener is bound to (after port overrides / ephemeral ports). */
  boundPort(name: string): number | undefined {
    const l = this.listeners.get(name);
    return l?.server ? l.boundPort : undefined;
  }

  private bind(active: ActiveListener): void {
    const spec = active.spec;
    const server = net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (s) => this.onConnection(active, s));
    active.server = server;
    const host = this.deps.bindAddressOverride && (spec.address === '0.0.0.0' || spec.address === '::') ? this.deps.bindAddressOverride : spec.address;
    const port = this.deps.portOverride ? this.deps.portOverride(spec.name, spec.port) : spec.port;
    this.pendingBinds++;
    server.once('listening', () => {
      this.pendingBinds--;
      active.boundPort = (server.address() as net.AddressInfo).port;
      this.deps.log.info({ listener: spec.name, address: host, port: active.boundPort }, 'listener bound');
    });
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (err.syscall === 'accept') {
        // the listening socket is fine: libuv goes on accepting once descriptors are free
        if (this.overload) this.overload.acceptFailed(spec.name, err);
        else this.deps.log.error({ listener: spec.name, err: err.code ?? err.message }, 'listener accept failed');
        return;
      }
      this.pendingBinds = Math.max(0, this.pendingBinds - 1);
      this.deps.log.error({ listener: spec.name, address: host, port, err: err.message }, `cannot bind listener (is port ${port} in use?)`);
      if (active.server === server) active.server = undefined;
    });
    server.listen({ host, port });
  }

  private closeListener(l: ActiveListener): void {
    l.server?.close();
    l.server = undefined;
  }

  /** Find the listener for a captured destination: exact ip:port, then 0.0.0.0:port. */
  private listenerFor(ip: string, port: number): ActiveListener | undefined {
    let wildcard: ActiveListener | undefined;
    for (const l of this.listeners.values()) {
      // virtualOutbound/virtualInbound are never hand-off targets (Istio's virtualInbound has no use_original_dst).
      if (l.spec.port !== port || l.spec.useOriginalDst || l.spec.direction === 'INBOUND' || l.spec.internal) continue;
      if (l.spec.address === ip) return l;
      if (l.spec.address === '0.0.0.0' || l.spec.address === '::') wildcard ??= l;
    }
    return wildcard;
  }

  private onConnection(receiving: ActiveListener, socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (receiving.spec.direction === 'INBOUND') this.lastInboundAccept = Date.now();
    const od = receiving.spec.useOriginalDst || receiving.spec.originalDstFilter ? this.deps.originalDst.lookup(socket) : undefined;
    const destIp = od ? od.address : plainIp(socket.localAddress ?? '');
    const destPort = od ? od.port : socket.localPort ?? 0;
    let target = receiving;
    // Hand-off by original destination is for outbound capture only: Istio's virtualInbound matches
    // its filter chains on the original port, and handing it to a 0.0.0.0_PORT outbound listener loops.
    if (receiving.spec.useOriginalDst && od && receiving.spec.direction !== 'INBOUND') target = this.listenerFor(od.address, od.port) ?? receiving;
    const facts: ConnectionFacts = {
      destinationIp: destIp,
      destinationPort: destPort,
      serverName: '',
      transportProtocol: 'raw_buffer',
      applicationProtocols: [],
      sourceIp: plainIp(socket.remoteAddress ?? ''),
      sourcePort: socket.remotePort ?? 0,
    };
    if (!target.spec.sniff) {
      this.dispatch(target.spec, socket, facts, undefined, od !== undefined);
      return;
    }
    // the listener as it is now: an update during sniffing applies to this connection
    this.sniffThen(socket, facts, (buf) => this.dispatch(target.spec, socket, facts, buf, od !== undefined));
  }

  /** tls_inspector / http_inspector: read the first bytes into `facts`, then `next` with them. */
  private sniffThen(socket: net.Socket, facts: ConnectionFacts, next: (initial: Buffer | undefined) => void): void {
    let buf: Buffer | undefined;
    const timer = setTimeout(() => finish(), this.deps.sniffTimeoutMs ?? 5000);
    const finish = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', finish);
      socket.pause();
      next(buf);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      const r = sniff(buf);
      if (r.incomplete && buf.length < 16384) return;
      facts.transportProtocol = r.transport;
      facts.applicationProtocols = r.applicationProtocols;
      facts.serverName = r.serverName;
      finish();
    };
    socket.on('data', onData);
    socket.once('end', finish);
  }

  /**
   * A connection to an internal listener (Envoy's `internal_listener`): made inside the proxy,
   * with the destination and the downstream's identity known to whoever made it (the waypoint's
   * HBONE tunnel: the CONNECT authority, the client's address from `Forwarded`, the peer's
   * verified SPIFFE identity). False when there is no such listener.
   */
  acceptInternal(name: string, socket: net.Socket, d: InternalDownstream): boolean {
    const l = this.listeners.get(name);
    if (!l || !l.spec.internal || this.draining) return false;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const facts: ConnectionFacts = {
      destinationIp: d.destinationIp,
      destinationPort: d.destinationPort,
      serverName: '',
      transportProtocol: 'raw_buffer',
      applicationProtocols: [],
      sourceIp: d.sourceIp,
      sourcePort: d.sourcePort,
    };
    const conn = { tls: d.peerPrincipal !== '', peerPrincipal: d.peerPrincipal, localPrincipal: d.localPrincipal, localAddress: d.destinationIp, localPort: d.destinationPort };
    if (!l.spec.sniff) this.dispatch(l.spec, socket, facts, undefined, true, conn);
    else this.sniffThen(socket, facts, (initial) => {
      const now = this.listeners.get(name);
      if (!now || this.draining) socket.destroy();
      else this.dispatch(now.spec, socket, facts, initial, true, conn);
    });
    return true;
  }

  private dispatch(spec: ListenerSpec, socket: net.Socket, facts: ConnectionFacts, initial: Buffer | undefined, captured: boolean, internal?: Partial<DownstreamConnectionInfo>): void {
    const chain = selectFilterChain(spec, facts);
    if (!chain) {
      this.deps.log.debug({ listener: spec.name, facts }, 'no filter chain matched; closing');
      socket.destroy();
      return;
    }
    const tracked = new ChainConnection(socket);
    this.chains.of(chain).add(tracked, socket);
    if (this.drainingInbound && spec.direction === 'INBOUND') tracked.drain();
    if (socket.destroyed) return;
    const conn: DownstreamConnectionInfo = {
      listenerName: spec.name,
      direction: spec.direction,
      remoteAddress: facts.sourceIp,
      remotePort: facts.sourcePort,
      localAddress: plainIp(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      originalDestination: captured ? (facts.destinationIp.includes(':') ? `[${facts.destinationIp}]:${facts.destinationPort}` : `${facts.destinationIp}:${facts.destinationPort}`) : '',
      requestedServerName: facts.serverName,
      tls: false,
      peerPrincipal: '',
      localPrincipal: '',
      ...internal,
    };
    this.server.serve(chain, socket, conn, { initial, tracked, offeredAlpn: facts.applicationProtocols, terminateTls: internal === undefined });
  }

  private isStopped(l: ListenerSpec): boolean {
    return this.stopped === 'ALL' || (this.stopped === 'INBOUND' && l.direction === 'INBOUND');
  }

  /**
   * Envoy's admin `POST /drain_listeners` (`?inboundonly`: listeners whose traffic_direction is
   * INBOUND): their sockets close at once (new connections are refused) and stay closed across
   * later LDS updates; connections already open finish as they are.
   */
  stopListeners(inboundOnly: boolean): number {
    if (this.stopped !== 'ALL') this.stopped = inboundOnly ? 'INBOUND' : 'ALL';
    let n = 0;
    for (const l of this.listeners.values()) {
      if (!this.isStopped(l.spec) || !l.server) continue;
      this.closeListener(l);
      n++;
    }
    return n;
  }

  /**
   * Istio's agent on SIGTERM (`drain_listeners?inboundonly&graceful`, then its
   * terminationDrainDuration): listeners keep accepting, every connection on an inbound chain is
   * drained (HTTP/1.1: `connection: close` on its next response; HTTP/2: GOAWAY) and so is each
   * new one, so clients reconnect and their load balancers move on once the pod's endpoint is
   * gone (on Kubernetes the kubelet signals while the EndpointSlice change is still on its way);
   * outbound listeners are untouched, so the application can still call out. Resolves once no
   * inbound connection has been accepted for `quietMs` (Istio waits the whole period), at the
   * latest after `maxMs`.
   */
  async drainInboundGracefully(quietMs: number, maxMs: number): Promise<void> {
    this.drainingInbound = true;
    for (const l of this.listeners.values()) {
      if (l.spec.direction !== 'INBOUND') continue;
      this.chains.drainOpen(l.spec);
    }
    const start = Date.now();
    this.lastInboundAccept = Math.max(this.lastInboundAccept, start);
    while (Date.now() - start < maxMs && Date.now() - this.lastInboundAccept < quietMs) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stop accepting; close idle HTTP connections; resolve when all connections ended or after `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    for (const l of this.listeners.values()) this.closeListener(l);
    this.server.shutdownHttp();
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sockets) s.destroy();
  }

  close(): void {
    this.draining = true;
    this.overload?.close();
    this.chains.finish();
    this.server.close();
    for (const l of this.listeners.values()) this.closeListener(l);
    for (const s of this.sockets) s.destroy();
  }
}
