import type { Logger } from '../../lib/log.ts';
import { TYPE_URL } from '../../api/xds/type-urls.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { compileListener, type ListenerCompileDeps, type ListenerSpec } from '../listener/listener-config.ts';
import type { ListenerManager } from '../listener/listener-manager.ts';
import { compileRouteTable, type RouteTable } from '../l7/route-table.ts';
import type { MapSecretProvider, TlsSecret } from '../tls/secret-provider.ts';
import type { XdsResourceSink, XdsUpdate } from './ads-client.ts';
import type { EnvoyObject } from './envoy-codec.ts';
import { asObj, asString, type Obj } from './proto-values.ts';
import { onlyFields, reject, ResourceRejection } from './resource-rejection.ts';

/** Accepted raw resources by type, with versions, for /config_dump. */
export interface AcceptedResource {
  name: string;
  version: string;
  resource: EnvoyObject;
  lastUpdated: string;
}

function compileSecret(s: Obj): TlsSecret {
  const name = asString(s.name);
  const path = `Secret ${name}`;
  onlyFields(s, path, ['name', 'tlsCertificate', 'validationContext', 'sessionTicketKeys', 'genericSecret']);
  const text = (v: unknown, p: string): string => {
    const o = asObj(v);
    if (typeof o.inlineString === 'string') return o.inlineString;
    if (typeof o.inlineBytes === 'string') return Buffer.from(o.inlineBytes, 'base64').toString();
    return reject(p, 'only inline secrets are supported over SDS');
  };
  if (s.tlsCertificate !== undefined) {
    const c = asObj(s.tlsCertificate);
    return { kind: 'certificate', certChain: text(c.certificateChain, `${path}.tlsCertificate.certificateChain`), privateKey: text(c.privateKey, `${path}.tlsCertificate.privateKey`) };
  }
  if (s.validationContext !== undefined) return { kind: 'validation', trustedCa: text(asObj(s.validationContext).trustedCa, `${path}.validationContext.trustedCa`) };
  return reject(path, 'needs tls_certificate or validation_context');
}

/**
 * The proxy side of ADS: validates each update completely (compiling every resource) and only
 * then swaps it in, so a NACKed update leaves the running config untouched. Clusters and
 * endpoints are applied as they come (ADS orders CDS → EDS → LDS → RDS); listeners resolve their
 * RDS route table by name at request time, so a route update applies to existing listeners.
 */
export class XdsConfigApplier implements XdsResourceSink {
  private readonly clusters: ClusterManager;
  private readonly listeners: ListenerManager;
  private readonly secrets: MapSecretProvider;
  private readonly deps: ListenerCompileDeps;
  private readonly log: Logger;
  readonly routes = new Map<string, RouteTable>();
  readonly accepted = new Map<string, Map<string, AcceptedResource>>();
  /** Set after the first listener update is applied. */
  listenersReceived = false;
  clustersReceived = false;
  private readonly readyListeners: (() => void)[] = [];

  constructor(opts: { clusters: ClusterManager; listeners: ListenerManager; secrets: MapSecretProvider; compileDeps: ListenerCompileDeps; log: Logger }) {
    this.clusters = opts.clusters;
    this.listeners = opts.listeners;
    this.secrets = opts.secrets;
    this.deps = opts.compileDeps;
    this.log = opts.log;
    for (const t of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret]) this.accepted.set(t, new Map());
  }

  routeTable(name: string): RouteTable | undefined {
    return this.routes.get(name);
  }

  /** Ready = clusters and listeners received, and every RDS name the listeners use is present. */
  get ready(): boolean {
    if (!this.clustersReceived || !this.listenersReceived) return false;
    for (const n of this.subscriptions(TYPE_URL.route)) if (!this.routes.has(n)) return false;
    return true;
  }

  onReady(fn: () => void): void {
    if (this.ready) fn();
    else this.readyListeners.push(fn);
  }

  private checkReady(): void {
    if (!this.ready) return;
    for (const fn of this.readyListeners.splice(0)) fn();
  }

  subscriptions(typeUrl: string): readonly string[] {
    switch (typeUrl) {
      case TYPE_URL.endpoint: return this.clusters.edsNames();
      case TYPE_URL.route: {
        const out = new Set<string>();
        for (const l of this.listeners.listeners.values()) {
          for (const c of [...l.spec.filterChains, ...(l.spec.defaultChain ? [l.spec.defaultChain] : [])]) {
            if (c.terminal.kind === 'http' && c.terminal.hcm.routeConfigName !== undefined) out.add(c.terminal.hcm.routeConfigName);
          }
        }
        return [...out];
      }
      case TYPE_URL.secret: {
        const out = new Set(this.clusters.secretNames());
        for (const l of this.listeners.listeners.values()) {
          for (const c of l.spec.filterChains) {
            const t = c.tls;
            if (t?.cert && 'sds' in t.cert) out.add(t.cert.sds);
            if (t?.ca && 'sds' in t.ca) out.add(t.ca.sds);
          }
        }
        // `default` and `ROOTCA` come from the local agent, not from discovery
        out.delete('default');
        out.delete('ROOTCA');
        return [...out];
      }
      default: return [];
    }
  }

  apply(u: XdsUpdate): string | undefined {
    try {
      this.applyOrThrow(u);
    } catch (err) {
      if (err instanceof ResourceRejection) return err.message;
      throw err;
    }
    this.record(u);
    this.checkReady();
    return undefined;
  }

  private record(u: XdsUpdate): void {
    const m = this.accepted.get(u.typeUrl);
    if (!m) return;
    const now = new Date().toISOString();
    if (u.stateOfTheWorld) {
      const names = new Set(u.resources.map((r) => r.name));
      for (const n of [...m.keys()]) if (!names.has(n)) m.delete(n);
    }
    for (const r of u.resources) m.set(r.name, { name: r.name, version: r.version || u.versionInfo, resource: r.resource, lastUpdated: now });
    for (const n of u.removed) m.delete(n);
  }

  private applyOrThrow(u: XdsUpdate): void {
    const resources = u.resources.map((r) => r.resource);
    switch (u.typeUrl) {
      case TYPE_URL.cluster: {
        const compiled = this.clusters.compile(resources);
        this.clusters.applyClusters(compiled, u.removed, u.stateOfTheWorld, u.versionInfo);
        this.clustersReceived = true;
        return;
      }
      case TYPE_URL.endpoint: {
        const compiled = this.clusters.compileEndpoints(resources);
        this.clusters.applyEndpoints(compiled, u.removed, u.versionInfo);
        return;
      }
      case TYPE_URL.listener: {
        const compiled: ListenerSpec[] = resources.map((r) => compileListener(r, this.deps));
        const seen = new Map<string, string>();
        for (const l of compiled) {
          if (!l.bindToPort && !l.useOriginalDst) continue;
          const key = `${l.address}:${l.port}`;
          if (l.bindToPort && l.port !== 0 && seen.has(key)) reject(`Listener ${l.name}.address`, `${key} is also used by listener ${seen.get(key)}`);
          seen.set(key, l.name);
        }
        this.listeners.apply(compiled, u.removed, u.stateOfTheWorld, u.versionInfo);
        this.listenersReceived = true;
        return;
      }
      case TYPE_URL.route: {
        const compiled = resources.map((r) => compileRouteTable(r));
        for (const t of compiled) this.routes.set(t.name, t);
        for (const n of u.removed) this.routes.delete(n);
        return;
      }
      case TYPE_URL.secret: {
        const compiled = resources.map((r) => ({ name: asString(r.name), secret: compileSecret(r) }));
        for (const s of compiled) this.secrets.set(s.name, s.secret);
        for (const n of u.removed) this.secrets.delete(n);
        return;
      }
      default:
        reject(u.typeUrl, 'type not supported by this proxy');
    }
  }

  /** Names of accepted resources of a type (for tests and admin). */
  names(typeUrl: string): string[] {
    return [...(this.accepted.get(typeUrl)?.keys() ?? [])];
  }
}

