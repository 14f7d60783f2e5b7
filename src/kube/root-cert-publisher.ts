import { errorMessage } from '../lib/errors.ts';
import { KubeApiError, type KubeApi } from '../lib/kube/kube-api.ts';
import { Reflector, type KubeObject } from '../lib/kube/reflector.ts';
import type { Logger } from '../lib/log.ts';

export const ROOT_CERT_CONFIG_MAP = 'istio-ca-root-cert';
export const ROOT_CERT_KEY = 'root-cert.pem';

export interface RootCertPublisherOptions {
  api: KubeApi;
  log: Logger;
  rootCertPem: () => string;
  /** Namespaces that should carry the ConfigMap now (selected by discoverySelectors, not terminating). */
  namespaces: () => readonly string[];
}

/**
 * istiod's namespace controller (run by the leader only): ConfigMap `istio-ca-root-cert` with the
 * mesh root in every selected namespace, put back when it is edited or deleted, created when a
 * namespace appears. `nudge()` re-checks everything (namespace list or root changed).
 */
export class RootCertPublisher {
  private readonly o: RootCertPublisherOptions;
  private readonly existing = new Map<string, string | undefined>();
  private reflector: Reflector | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = true;
  private listed = false;

  constructor(options: RootCertPublisherOptions) {
    this.o = options;
  }

  start(): void {
    this.stopped = false;
    this.listed = false;
    this.reflector = new Reflector({
      api: this.o.api,
      path: '/api/v1/configmaps',
      fieldSelector: `metadata.name=${ROOT_CERT_CONFIG_MAP}`,
      what: `ConfigMaps ${ROOT_CERT_CONFIG_MAP}`,
      apiVersion: 'v1',
      kind: 'ConfigMap',
      log: this.o.log,
      onSync: (items) => {
        this.listed = true;
        this.existing.clear();
        for (const i of items) this.remember(i);
        this.nudge();
      },
      onEvent: (type, obj) => {
        if (type === 'DELETED') this.existing.delete(String(obj.metadata?.namespace));
        else this.remember(obj);
        this.nudge();
      },
    });
    this.reflector.start();
  }

  private remember(cm: KubeObject): void {
    this.existing.set(String(cm.metadata?.namespace), (cm.data as Record<string, string> | undefined)?.[ROOT_CERT_KEY]);
  }

  /** Re-check soon (debounced 100 ms). */
  nudge(): void {
    if (this.stopped || !this.listed) return;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcile();
    }, 100);
  }

  private async reconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      const root = this.o.rootCertPem();
      for (const ns of this.o.namespaces()) {
        if (this.stopped) break;
        const current = this.existing.get(ns);
        if (current === root) continue;
        const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CERT_CONFIG_MAP, namespace: ns, labels: { 'istio.io/config': 'true' } }, data: { [ROOT_CERT_KEY]: root } };
        try {
          if (this.existing.has(ns)) {
            await this.o.api.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/${ROOT_CERT_CONFIG_MAP}`, { body: { data: body.data, metadata: { labels: body.metadata.labels } }, contentType: 'application/merge-patch+json' });
          } else {
            await this.o.api.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body });
          }
          this.existing.set(ns, root);
        } catch (err) {
          // 409: created meanwhile (the watch brings it); 404/403 on a terminating namespace: skip.
          if (err instanceof KubeApiError && (err.status === 409 || (err.status === 403 && /terminat/i.test(err.message)) || err.status === 404)) continue;
          this.o.log.warn({ namespace: ns, err: errorMessage(err) }, `cannot write ConfigMap ${ROOT_CERT_CONFIG_MAP}; retrying`);
          setTimeout(() => this.nudge(), 2000).unref();
        }
      }
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.reflector?.close();
    this.reflector = undefined;
  }
}
