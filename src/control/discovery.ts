import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadEnvoyRoot } from '../api/xds/envoy-protos.ts';
import { WORKLOAD_PROTO_FILES } from '../api/workload/workload-protos.ts';
import { lineOfField, resourceRef, type ConfigResource } from '../api/config-resource.ts';
import { lookupKind } from '../api/kinds.ts';
import { parseDocuments } from './config/parse-documents.ts';
import { OverlayConfig, proxyChanges } from './debug/what-if.ts';
import type { Clock } from '../lib/clock.ts';
import { MizzenError, errorMessage } from '../lib/errors.ts';
import { GrpcServer, type GrpcServerTls } from '../lib/grpc-wire/grpc-server.ts';
import type { LogFactory, Logger } from '../lib/log.ts';
import { CaDirectoryWatcher } from './ca/ca-directory-watcher.ts';
import { createCertificateAuthority, type CertificateAuthority } from './ca/certificate-authority.ts';
import { StoreNodeAuthorizer } from './ca/node-authorizer.ts';
import type { ConfigChange, ConfigStoreReader } from './config/config-store-reader.ts';
import { ConfigStore } from './config/config-store.ts';
import { GatewayApiConfigView } from './gateway-api/gateway-api-config-view.ts';
import { FileSource } from './config/sources/file-source.ts';
import { MeshConfigWatcher } from './config/mesh-config-watcher.ts';
import type { MeshConfig } from './config/mesh-config.ts';
import type { ResourceValidator } from './config/sources/resource-validator.ts';
import { validateResource } from './config/validation/validate-resource.ts';
import { servedValidator, submittedValidator } from './config/support/served-validator.ts';
import { DebugServer } from './debug/debug-server.ts';
import { parseListenAddress } from './debug/listen-address.ts';
import { registryDump } from './debug/registry-dump.ts';
import { GeneratorRegistry } from './generate/generator-registry.ts';
import { Debouncer } from './push/debouncer.ts';
import { PushContext } from './push/push-context.ts';
import { fullPushRequest, mergePushRequests, requestFromChanges, type ChangeClass, type PushRequest } from './push/push-request.ts';
import { scopePush } from './push/push-scope.ts';
import { partialEndpointPush } from './push/partial-eds.ts';
import { withIdentityChanges } from './push/identity-changes.ts';
import { sharedGeneration } from './push/shared-generation.ts';
import type { RegistrySnapshot } from './registry/service.ts';
import { RegistryBuilder } from './registry/registry-builder.ts';
import { classifyChange } from './registry/classify-change.ts';
import { hostsWithChangedEndpoints } from './registry/changed-endpoints.ts';
import { AdsServer } from './xds/ads-server.ts';
import { XdsMetrics } from './xds/xds-metrics.ts';
// Kubernetes mode loads @kubernetes/client-node (~90 MB, seconds to import): only with --kube.
import type { KubeMode, KubeModeOptions } from '../kube/kube-mode.ts';
import type { XdsSnapshot } from './xds/xds-snapshot.ts';

export interface DiscoveryOptions {
  configPaths: readonly string[];
  caDir?: string;
  trustDomain: string;
  /** Plaintext xDS + CA (`:15010`). */
  grpcAddr: string;
  /** TLS xDS + CA (`:15012`), served when a CA is configured. */
  secureGrpcAddr: string;
  /** Debug/metrics HTTP (`:15014`). */
  httpAddr: string;
  /** An extra Unix socket for the debug HTTP server (the CLI's way in under `mizzen up`). */
  httpSocket?: string;
  debounceAfterMs: number;
  debounceMaxMs: number;
  pushConcurrency?: number;
  /** Extra SANs for the 15012 serving certificate. */
  servingHosts?: readonly string[];
  clock: Clock;
  logs: LogFactory;
  /** Service registry builder (default: the registry of control/registry/). */
  buildRegistry?: (reader: ConfigStoreReader, mesh: MeshConfig) => RegistrySnapshot;
  classify?: (change: ConfigChange) => ChangeClass;
  validate?: ResourceValidator;
  /** Poll interval for the config directories besides fs.watch (ms). */
  rescanIntervalMs?: number;
  /** `NS/SA` accounts allowed to request certificates for pods on their node (CA_TRUSTED_NODE_ACCOUNTS). */
  trustedNodeAccounts?: readonly string[];
  /** istiod's ENABLE_TLS_ON_SIDECAR_INGRESS: Sidecar ingress `tls` terminates on the port (off by default). */
  tlsOnSidecarIngress?: boolean;
  /** Kubernetes mode (`--kube`): the API server as one more config source, webhooks, CA keys. */
  kube?: Omit<KubeModeOptions, 'store' | 'validate' | 'mesh' | 'logs' | 'trustDomain'>;
}

/** POST /debug/whatif: the files of a change, as `mizzen apply` would send them. */
interface WhatIfRequest {
  files?: { file?: string; text?: string }[];
  namespace?: string;
}

export interface DiscoveryAddresses {
  grpc: string;
  secureGrpc: string | undefined;
  http: string;
  /** The webhook server (15017) in Kubernetes mode. */
  webhook?: string;
}

/**
 * `mizzen discovery`'s composition root: file source → store → registry → push context →
 * generators → ADS server (debounced, scoped pushes), plus the CA and the debug/metrics server.
 */
export class Discovery {
  private readonly o: DiscoveryOptions;
  readonly metricsRegistry = new Registry();
  readonly store: ConfigStore;
  /** Envoy's API and Istio's workload API (ztunnel's resources). */
  private readonly root = loadEnvoyRoot(WORKLOAD_PROTO_FILES);
  private readonly xdsMetrics: XdsMetrics;
  readonly ads: AdsServer;
  private readonly generators = new GeneratorRegistry();
  private readonly fileSource: FileSource;
  private readonly debouncer: Debouncer<PushRequest>;
  private readonly classify: (change: ConfigChange) => ChangeClass;
  private readonly meshWatcher: MeshConfigWatcher;
  private pushContext: PushContext | undefined;
  private pushCounter = 0;
  private gatewayApiProblems: string[] = [];
  /** Reuses unchanged per-resource registry results (and the snapshot) between pushes. */
  private readonly registryBuilder = new RegistryBuilder();
  private ca: CertificateAuthority | undefined;
  private caDirWatcher: CaDirectoryWatcher | undefined;
  private grpcServer: GrpcServer | undefined;
  private readonly debugServers: DebugServer[] = [];
  private ready = false;
  kube: KubeMode | undefined;
  /** A CA directory made for Kubernetes mode when none was given (removed on close). */
  private tempCaDir: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;
  readonly controlPlaneId = `mizzen-discovery-${hostname()}`;

  constructor(options: DiscoveryOptions) {
    this.o = options;
    const log = options.logs.component('discovery');
    this.log = log;
    this.classify = options.classify ?? classifyChange;
    collectDefaultMetrics({ register: this.metricsRegistry });
    this.xdsMetrics = new XdsMetrics(this.metricsRegistry);
    this.store = new ConfigStore({ log: options.logs.component('config') });
    this.meshWatcher = new MeshConfigWatcher({ store: this.store, log: options.logs.component('config') });
    this.meshWatcher.onChange(() => {
      this.kube?.source.refreshSelection();
      if (this.ready) this.debouncer.push(fullPushRequest('mesh', options.clock.now()));
    });

    this.ads = new AdsServer({
      root: this.root,
      metrics: this.xdsMetrics,
      clock: options.clock,
      log: options.logs.component('xds'),
      pushConcurrency: options.pushConcurrency ?? 100,
      controlPlaneId: this.controlPlaneId,
    });
    this.fileSource = new FileSource({
      paths: options.configPaths,
      store: this.store,
      validate: options.validate ?? servedValidator(validateResource),
      clock: options.clock,
      log: options.logs.component('config'),
      ...(options.rescanIntervalMs !== undefined ? { rescanIntervalMs: options.rescanIntervalMs } : {}),
      onMeshConfig: (text, file) => this.meshWatcher.setFile(text, file),
    });
    this.debouncer = new Debouncer<PushRequest>({
      clock: options.clock,
      afterMs: options.debounceAfterMs,
      maxMs: options.debounceMaxMs,
      merge: mergePushRequests,
      flush: (req, waited) => this.pushNow(req, waited),
      onError: (err) => log.error({ err: errorMessage(err) }, 'push failed'),
    });
  }


  /** The MeshConfig in force; --trust-domain is authoritative (the CA signs for it). */
  private get mesh(): MeshConfig {
    return { ...this.meshWatcher.current(), trustDomain: this.o.trustDomain };
  }

  /** Build a new immutable push context and the snapshot the ADS server serves from it. */
  private buildSnapshot(): XdsSnapshot {
    const mesh = this.mesh;
    const registry = this.o.buildRegistry ? this.o.buildRegistry(this.store, mesh) : this.registryBuilder.build(this.store, mesh);
    const version = `${new Date(this.o.clock.now()).toISOString()}/${++this.pushCounter}`;
    const view = new GatewayApiConfigView(this.store, 'cluster.local');
    this.reportGatewayApiProblems(view.translation.problems);
    const push = new PushContext({ config: view, registry, mesh: { ...mesh, enableTlsOnSidecarIngress: this.o.tlsOnSidecarIngress === true }, version });
    this.pushContext = push;
    const generators = this.generators;
    const generate = sharedGeneration((proxy, typeUrl, names) => {
      const g = generators.get(typeUrl, proxy);
      return g ? g.generate(proxy, push, names ? { names } : {}) : [];
    }, registry);
    return { version, generate };
  }

  /** Gateway API problems (unsupported filters, refused references) are logged once each and listed in /debug/configz. */
  private reportGatewayApiProblems(problems: readonly string[]): void {
    for (const p of problems) if (!this.gatewayApiProblems.includes(p)) this.log.warn({ problem: p }, 'Gateway API resource not fully applied');
    this.gatewayApiProblems = [...problems];
  }

  private async pushNow(req: PushRequest, waitedMs: number): Promise<void> {
    this.xdsMetrics.debounceTime.observe(waitedMs / 1000);
    for (const [reason, n] of Object.entries(req.reasons)) this.xdsMetrics.pushTriggers.inc({ type: reason }, n);
    let snapshot: XdsSnapshot;
    const before = this.pushContext?.registry;
    try {
      snapshot = this.buildSnapshot();
    } catch (err) {
      this.xdsMetrics.pushContextErrors.inc();
      this.log.error({ err: errorMessage(err) }, 'building the push context failed; proxies keep their config');
      return;
    }
    const after = this.pushContext!.registry;
    // An endpoint-only push concerns the services whose endpoints moved (Istio's EDSUpdate per service).
    const moved = !req.full && before ? hostsWithChangedEndpoints(before, after) : undefined;
    const scoped = withIdentityChanges(req, before, after, moved);
    // Endpoint-only: EDS of those services alone, the rest stays as sent (Istio's incremental EDS).
    const partial = partialEndpointPush(scoped, moved);
    const queued = this.ads.push(snapshot, scopePush(scoped, this.pushContext!, this.classify), req.startedAt, partial);
    this.log.debug({ version: snapshot.version, full: req.full, changes: req.changes.length, partial: partial !== undefined, queued }, 'push');
  }

  async start(): Promise<DiscoveryAddresses> {
    const scan = await this.fileSource.start();
    for (const p of scan.problems) this.log.warn({ problem: p }, 'config problem');
    if (this.o.kube) {
      const { KubeMode } = await import('../kube/kube-mode.ts');
      this.kube = new KubeMode({
        ...this.o.kube,
        store: this.store,
        validate: this.o.validate ?? validateResource,
        mesh: () => this.mesh,
        logs: this.o.logs,
        trustDomain: this.o.trustDomain,
      });
      await this.kube.startSource();
    }
    this.ads.setSnapshot(this.buildSnapshot());
    this.unsubscribe = this.store.subscribe((changes) => {
      const req = requestFromChanges(changes, this.o.clock.now(), this.classify);
      if (req) this.debouncer.push(req);
    });
    // Real time for grpc-timeout and the shutdown grace, whatever clock drives pushes.
    const server = new GrpcServer({ log: this.o.logs.component('grpc'), maxReceiveMessageBytes: 16 * 1024 * 1024 });
    this.grpcServer = server;
    this.ads.addToServer(server);
    let caDir = this.o.caDir;
    if (this.kube) {
      caDir ??= this.tempCaDir = mkdtempSync(join(tmpdir(), 'mizzen-ca-'));
      await this.kube.prepareCa(caDir);
    }
    if (caDir) {
      this.ca = createCertificateAuthority({
        ...(this.kube ? { tokenReviewer: this.kube.tokenReviewer() } : {}),
        caDir,
        trustDomain: this.o.trustDomain,
        clock: this.o.clock,
        log: this.o.logs.component('ca'),
        metrics: this.metricsRegistry,
        nodeAuthorizer: new StoreNodeAuthorizer(this.store, this.o.trustedNodeAccounts),
      });
      this.ca.addToServer(server);
      // outside Kubernetes the CA directory is the mounted cacerts: watch it as istiod does
      if (!this.kube) {
        const ca = this.ca;
        this.caDirWatcher = new CaDirectoryWatcher({ caDir, reload: () => ca.reload(), log: this.o.logs.component('ca') });
        this.caDirWatcher.start();
      }
    }
    const grpcAddr = await bindGrpc(server, this.o.grpcAddr, 15010);
    let secure: string | undefined;
    if (this.ca) {
      secure = await bindGrpc(server, this.o.secureGrpcAddr, 15012, this.ca.servingTls(this.o.servingHosts ?? ['localhost', '127.0.0.1']));
    } else {
      this.log.info('no --ca-dir: the CA and TLS xDS on 15012 are off');
    }
    const debugOptions = {
      root: this.root,
      connections: this.ads.connections,
      metrics: this.metricsRegistry,
      log: this.o.logs.component('debug'),
      ready: () => this.ready,
      controlPlaneId: this.controlPlaneId,
      registryz: () => (this.pushContext ? registryDump(this.pushContext.registry) : []),
      configz: () => this.configz(),
      whatIf: (body: unknown) => this.whatIf(body as WhatIfRequest),
    };
    const http = new DebugServer({ ...debugOptions, address: this.o.httpAddr });
    this.debugServers.push(http);
    const httpAddr = await http.start();
    if (this.o.httpSocket) {
      const sock = new DebugServer({ ...debugOptions, address: `unix:${this.o.httpSocket}` });
      this.debugServers.push(sock);
      await sock.start();
    }
    const webhook = this.kube && this.ca ? await this.kube.startServing(this.ca) : undefined;
    this.ready = true;
    this.log.info({ grpc: grpcAddr, secureGrpc: secure, http: httpAddr, webhook, resources: this.store.all().length }, 'discovery ready');
    return { grpc: grpcAddr, secureGrpc: secure, http: httpAddr, ...(webhook ? { webhook } : {}) };
  }

  private configz(): unknown {
    return {
      revision: this.store.revision(),
      pushVersion: this.ads.currentSnapshot().version,
      resources: this.store.all().map((r) => ({
        ref: resourceRef(r),
        apiVersion: r.apiVersion,
        kind: r.kind,
        namespace: r.metadata.namespace,
        name: r.metadata.name,
        ...(r.origin ? { origin: r.origin } : {}),
      })),
      errors: [...this.fileSource.problems(), ...this.meshWatcher.problems(), ...(this.kube?.problems() ?? [])],
      gatewayApi: this.gatewayApiProblems,
      meshConfig: this.mesh,
      files: this.fileSource.status(),
    };
  }

  /**
   * What a change would do before it is applied (`mizzen diff`, `apply --dry-run=server`):
   * validated as apply validates, laid over the config in force, and every connected proxy's
   * xDS generated both ways and compared. Changes nothing.
   */
  private whatIf(req: WhatIfRequest): unknown {
    const errors: string[] = [];
    const warnings: string[] = [];
    const resources: ConfigResource[] = [];
    const validate = submittedValidator(validateResource);
    for (const f of req.files ?? []) {
      const parsed = parseDocuments(String(f.text ?? ''), String(f.file ?? 'STDIN'), { fieldLines: true });
      for (const p of parsed.problems) errors.push(`${p.file}:${p.line}: ${p.message}`);
      for (const raw of parsed.resources) {
        const r = raw.metadata.namespace || !lookupKind(raw.group, raw.version, raw.kind).known ? raw : { ...raw, metadata: { ...raw.metadata, namespace: req.namespace ?? 'default' } };
        const v = validate(r);
        const where = (path: string): string => `${r.origin?.file}:${lineOfField(r.origin, path)}: ${resourceRef(r)}: ${path}`;
        for (const e of v.errors) errors.push(`${where(e.path)}: ${e.message}`);
        for (const w of v.warnings) warnings.push(`${where(w.path)}: ${w.message}`);
        resources.push(r);
      }
    }
    if (errors.length > 0) return { errors, warnings, proxies: [] };
    // Both sides from the store as it is now, built as a push builds them (Gateway API translated):
    // the last push context may lag the store (debounce), which would show others' changes as this one's.
    const mesh = this.mesh;
    const context = (config: ConfigStoreReader, version: string): PushContext => {
      const registry = this.o.buildRegistry ? this.o.buildRegistry(config, mesh) : new RegistryBuilder().build(config, mesh);
      return new PushContext({ config: new GatewayApiConfigView(config, 'cluster.local'), registry, mesh: { ...mesh, enableTlsOnSidecarIngress: this.o.tlsOnSidecarIngress === true }, version });
    };
    const before = context(this.store, 'before');
    const after = context(new OverlayConfig(this.store, resources), 'what-if');
    const proxies = new Map(this.ads.connections.list().map((c) => [c.proxy.id, c.proxy]));
    return { errors, warnings, proxies: proxyChanges(before, after, [...proxies.values()], this.generators) };
  }

  /** The CA's root certificate (PEM) when running with --ca-dir. */
  rootCertPem(): string | undefined {
    return this.ca?.rootCertPem();
  }

  /** Push everything to everyone now (tests and operators). */
  pushAll(reason = 'debug'): void {
    this.debouncer.push(fullPushRequest(reason, this.o.clock.now()));
  }

  async close(): Promise<void> {
    this.ready = false;
    this.unsubscribe?.();
    this.fileSource.close();
    await this.kube?.close();
    this.meshWatcher.close();
    this.debouncer.close();
    this.ads.close();
    // Every ADS stream is ended: GOAWAY lets clients finish and reconnect elsewhere; cut after 2 s.
    const grpcClosed = this.grpcServer?.close(2000);
    this.caDirWatcher?.close();
    this.ca?.close();
    await Promise.all([grpcClosed, ...this.debugServers.map((s) => s.close())]);
    if (this.tempCaDir) rmSync(this.tempCaDir, { recursive: true, force: true });
  }
}

async function bindGrpc(server: GrpcServer, address: string, defaultPort: number, tls?: GrpcServerTls): Promise<string> {
  const a = parseListenAddress(address, defaultPort);
  try {
    const bound = await server.listen(a.path ? { path: a.path } : { host: a.host, port: a.port }, tls);
    return a.path ? bound : `${a.host}:${bound.slice(bound.lastIndexOf(':') + 1)}`;
  } catch (err) {
    throw new MizzenError('USAGE', `cannot listen on ${address} for gRPC: ${errorMessage(err)}`, { hint: 'is another discovery running? choose another address', cause: err });
  }
}
