import { hostname } from 'node:os';
import type { CertificateAuthority } from '../control/ca/certificate-authority.ts';
import { DISCOVERY_SERVICE_NAME } from '../control/ca/serving-certificate-provider.ts';
import type { ConfigStore } from '../control/config/config-store.ts';
import type { MeshConfig } from '../control/config/mesh-config.ts';
import { KubeSource } from '../control/config/sources/kube-source.ts';
import type { ConfigError } from '../control/config/sources/config-error.ts';
import type { ResourceValidator } from '../control/config/sources/resource-validator.ts';
import { labelSelectorMatches } from '../control/analyze/label-selector.ts';
import { errorMessage, MizzenError } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import type { LogFactory, Logger } from '../lib/log.ts';
import { kubeTokenReviewer, loadCaFromCluster } from './ca-secrets.ts';
import { injectAdmission } from './inject/inject-webhook.ts';
import { defaultInjectionSettings, settingsFromValues, type InjectionSettings } from './inject/injection-settings.ts';
import { PlugInCaWatcher } from './plug-in-ca-watcher.ts';
import { LeaderElection, NAMESPACE_CONTROLLER_LEASE, VALIDATION_CONTROLLER_LEASE } from './leader-election.ts';
import { RootCertPublisher } from './root-cert-publisher.ts';
import { validateAdmission } from './validation-webhook.ts';
import { WebhookPatcher } from './webhook-patcher.ts';
import { WebhookServer } from './webhook-server.ts';

export interface KubeModeOptions {
  api: KubeApi;
  store: ConfigStore;
  /** For the store (judgeResource) and for /validate: `mizzen validate`'s validator. */
  validate: ResourceValidator;
  mesh: () => MeshConfig;
  logs: LogFactory;
  systemNamespace: string;
  revision: string;
  /** This replica's identity in leases (POD_NAME in a cluster). */
  identity?: string;
  leaseDurationMs: number;
  /** Webhook listen address host:port (istiod: :15017). */
  webhookHost: string;
  webhookPort: number;
  trustDomain: string;
  reflector?: ConstructorParameters<typeof KubeSource>[0]['reflector'];
}

/**
 * Everything discovery does only on Kubernetes, around the file-mode core: the Kubernetes config
 * source, the CA's keys (Secret `cacerts` watched) and TokenReview, the webhooks on 15017, and the leader-only writers
 * (istio-ca-root-cert ConfigMaps, webhook caBundle/failurePolicy) under Istio's leases.
 */
export class KubeMode {
  private readonly o: KubeModeOptions;
  readonly source: KubeSource;
  private readonly log: Logger;
  private webhooks: WebhookServer | undefined;
  private readonly elections: LeaderElection[] = [];
  private publisher: RootCertPublisher | undefined;
  private patcher: WebhookPatcher | undefined;
  private webhookAddress: string | undefined;
  private caDir: string | undefined;
  private caWatcher: PlugInCaWatcher | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(options: KubeModeOptions) {
    this.o = options;
    this.log = options.logs.component('kube');
    this.source = new KubeSource({
      api: options.api,
      store: options.store,
      validate: options.validate,
      log: this.log,
      systemNamespace: options.systemNamespace,
      discoverySelectors: () => options.mesh().discoverySelectors as readonly unknown[] | undefined,
      ...(options.reflector ? { reflector: options.reflector } : {}),
    });
  }

  get revision(): string {
    return this.o.revision;
  }

  /** Start the watches and wait until each collection listed once (retrying with clear logs). */
  async startSource(): Promise<void> {
    this.log.info({ server: this.o.api.server }, 'reading config from the Kubernetes API server');
    await this.source.start();
    this.log.info('Kubernetes caches synced');
  }

  /** Fill `caDir` from Secrets `cacerts` / `istio-ca-secret` (creating the latter if needed). */
  async prepareCa(caDir: string): Promise<void> {
    this.caDir = caDir;
    while (!this.closed) {
      try {
        await loadCaFromCluster({ api: this.o.api, namespace: this.o.systemNamespace, caDir, trustDomain: this.o.trustDomain, log: this.log });
        return;
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'CA keys not available from the cluster yet; retrying in 2 s');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  tokenReviewer(): ReturnType<typeof kubeTokenReviewer> {
    return kubeTokenReviewer(this.o.api);
  }

  /** The injector's settings now: defaults ← `istio-sidecar-injector[-REV]` values ← mesh config. */
  injectionSettings(): InjectionSettings {
    const rev = this.o.revision;
    const base = defaultInjectionSettings({ revision: rev, systemNamespace: this.o.systemNamespace, trustDomain: this.o.trustDomain, holdApplicationUntilProxyStarts: this.o.mesh().defaultConfig.holdApplicationUntilProxyStarts === true });
    const cm = this.o.store.get('ConfigMap', this.o.systemNamespace, rev === 'default' ? 'istio-sidecar-injector' : `istio-sidecar-injector-${rev}`);
    const values = (cm?.spec as { data?: Record<string, string> } | undefined)?.data?.values;
    const { settings, error } = settingsFromValues(values, base);
    if (error) this.log.warn({ configMap: cm?.metadata.name, err: error }, 'ignoring injector values');
    return settings;
  }

  /** Webhooks on 15017 and the leader-only controllers. */
  async startServing(ca: CertificateAuthority): Promise<string> {
    const istiod = this.o.revision === 'default' ? 'istiod' : `istiod-${this.o.revision}`;
    const hosts = [DISCOVERY_SERVICE_NAME, `${istiod}.${this.o.systemNamespace}.svc`, `${istiod}.${this.o.systemNamespace}.svc.cluster.local`, 'localhost', '127.0.0.1'];
    const tls = ca.servingTls([...new Set(hosts)]);
    const routes = new Map([
      ['/validate', (req: Parameters<typeof validateAdmission>[0]) => validateAdmission(req, this.o.validate)],
      ['/inject', (req: Parameters<typeof injectAdmission>[0]) => injectAdmission(req, this.injectionSettings())],
    ]);
    this.webhooks = new WebhookServer({ tls, routes, log: this.log });
    try {
      this.webhookAddress = await this.webhooks.listen(this.o.webhookHost, this.o.webhookPort);
    } catch (err) {
      throw new MizzenError('USAGE', `cannot listen on ${this.o.webhookHost}:${this.o.webhookPort} for the webhooks: ${errorMessage(err)}`, { hint: 'choose another --webhook-addr', cause: err });
    }
    const identity = this.o.identity ?? hostname();
    const suffix = this.o.revision === 'default' ? '' : `-${this.o.revision}`;
    this.publisher = new RootCertPublisher({ api: this.o.api, log: this.log, rootCertPem: () => ca.rootCertPem(), namespaces: () => this.selectedNamespaces() });
    this.patcher = new WebhookPatcher({ api: this.o.api, log: this.log, revision: this.o.revision, caBundlePem: () => ca.rootCertPem(), validationWorks: () => this.validationWorks() });
    const publisher = this.publisher;
    const patcher = this.patcher;
    if (this.caDir) {
      this.caWatcher = new PlugInCaWatcher({
        api: this.o.api,
        namespace: this.o.systemNamespace,
        caDir: this.caDir,
        log: this.log,
        reload: () => ca.reload(),
        onReloaded: () => {
          publisher.nudge();
          patcher.nudge();
        },
      });
      this.caWatcher.start();
    }
    this.unsubscribe = this.o.store.subscribe((changes) => {
      if (changes.some((c) => c.kind === 'Namespace')) publisher.nudge();
    });
    const elect = (name: string, start: () => void, stop: () => Promise<void>): void => {
      const e = new LeaderElection({ api: this.o.api, namespace: this.o.systemNamespace, name: name + suffix, identity, leaseDurationMs: this.o.leaseDurationMs, log: this.log, onStartedLeading: start, onStoppedLeading: () => void stop() });
      this.elections.push(e);
      e.start();
    };
    elect(NAMESPACE_CONTROLLER_LEASE, () => publisher.start(), () => publisher.stop());
    elect(VALIDATION_CONTROLLER_LEASE, () => patcher.start(), () => patcher.stop());
    return this.webhookAddress;
  }

  /** Namespaces to carry istio-ca-root-cert: selected by discoverySelectors, not terminating. */
  private selectedNamespaces(): string[] {
    const selectors = this.o.mesh().discoverySelectors as readonly unknown[] | undefined;
    return this.o.store
      .list('Namespace')
      .filter((ns) => (ns.raw.status as { phase?: string } | undefined)?.phase !== 'Terminating')
      .filter((ns) => !selectors || selectors.length === 0 || ns.metadata.name === this.o.systemNamespace || selectors.some((s) => labelSelectorMatches(s, { 'kubernetes.io/metadata.name': ns.metadata.name, ...(ns.metadata.labels ?? {}) })))
      .map((ns) => ns.metadata.name);
  }

  /** A dry-run create of an invalid Gateway must be refused with our message. */
  private async validationWorks(): Promise<boolean> {
    const ns = this.o.systemNamespace;
    try {
      await this.o.api.request('POST', `/apis/networking.istio.io/v1/namespaces/${ns}/gateways`, {
        query: { dryRun: 'All' },
        body: { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'mizzen-validation-check', namespace: ns }, spec: { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['in valid/host name'] }] } },
      });
      return false; // accepted: our webhook was not consulted (or failed open)
    } catch (err) {
      return /configuration is invalid/.test(errorMessage(err));
    }
  }

  /** Leadership, for /debug and tests. */
  leaderships(): Record<string, boolean> {
    return Object.fromEntries(this.elections.map((e, i) => [i === 0 ? NAMESPACE_CONTROLLER_LEASE : VALIDATION_CONTROLLER_LEASE, e.isLeader]));
  }

  problems(): ConfigError[] {
    return [...this.source.problems(), ...(this.caWatcher?.problem ? [this.caWatcher.problem] : [])];
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    await Promise.all(this.elections.map((e) => e.close()));
    await Promise.all([this.publisher?.stop(), this.patcher?.stop(), this.caWatcher?.close(), this.webhooks?.close(), this.source.close()]);
  }
}
