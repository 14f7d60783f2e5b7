import { errorMessage } from '../lib/errors.ts';
import { KubeApiError, type KubeApi } from '../lib/kube/kube-api.ts';
import { Reflector, type KubeObject } from '../lib/kube/reflector.ts';
import type { Logger } from '../lib/log.ts';

export interface WebhookPatcherOptions {
  api: KubeApi;
  log: Logger;
  revision: string;
  caBundlePem: () => string;
  /**
   * Does the API server route validation to us? (A dry-run create of an invalid object must be
   * refused with our message.) Until it does, validation stays failurePolicy Ignore.
   */
  validationWorks: () => Promise<boolean>;
}

type Obj = Record<string, any>;

/**
 * istiod's webhook controllers (leader only): the `caBundle` of this revision's sidecar-injector
 * (MutatingWebhookConfiguration, labels app=sidecar-injector, istio.io/rev) and validator
 * (ValidatingWebhookConfiguration, labels app=istiod, istio.io/rev) configurations is our root;
 * validation's failurePolicy becomes Fail once a dry-run of an invalid object is refused by us.
 */
export class WebhookPatcher {
  private readonly o: WebhookPatcherOptions;
  private readonly reflectors: Reflector[] = [];
  private validated = false;
  private stopped = true;
  private retry: NodeJS.Timeout | undefined;
  /** The configurations last seen, by path/name, for nudge(). */
  private readonly known = new Map<string, { path: string; config: KubeObject }>();

  constructor(options: WebhookPatcherOptions) {
    this.o = options;
  }

  start(): void {
    this.stopped = false;
    const rev = this.o.revision;
    for (const [resource, kind, app] of [['mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', 'sidecar-injector'], ['validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', 'istiod']] as const) {
      const path = `/apis/admissionregistration.k8s.io/v1/${resource}`;
      const r = new Reflector({
        api: this.o.api,
        path,
        labelSelector: `app=${app},istio.io/rev=${rev}`,
        what: `${kind}s of revision ${rev}`,
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind,
        log: this.o.log,
        onSync: (items) => {
          for (const k of [...this.known.keys()]) if (k.startsWith(`${path}/`)) this.known.delete(k);
          for (const i of items) {
            this.known.set(`${path}/${String(i.metadata?.name)}`, { path, config: i });
            void this.patch(path, i);
          }
        },
        onEvent: (type, obj) => {
          const key = `${path}/${String(obj.metadata?.name)}`;
          if (type === 'DELETED') this.known.delete(key);
          else {
            this.known.set(key, { path, config: obj });
            void this.patch(path, obj);
          }
        },
      });
      this.reflectors.push(r);
      r.start();
    }
  }

  /** The root changed (CA reloaded): patch the caBundle of every configuration again. */
  nudge(): void {
    for (const { path, config } of this.known.values()) void this.patch(path, config);
  }

  private async patch(path: string, config: KubeObject): Promise<void> {
    if (this.stopped) return;
    const name = String(config.metadata?.name);
    const bundle = Buffer.from(this.o.caBundlePem()).toString('base64');
    const validating = config.kind === 'ValidatingWebhookConfiguration';
    const webhooks = ((config.webhooks ?? []) as Obj[]).map((w) => ({ ...w }));
    let changed = false;
    for (const w of webhooks) {
      if (w.clientConfig?.caBundle !== bundle) {
        w.clientConfig = { ...w.clientConfig, caBundle: bundle };
        changed = true;
      }
    }
    if (changed) {
      try {
        await this.o.api.request('PUT', `${path}/${name}`, { body: { ...config, webhooks } });
        this.o.log.info({ config: name }, 'patched caBundle');
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409)) this.o.log.warn({ config: name, err: errorMessage(err) }, 'cannot patch caBundle');
        return; // the watch brings the newer version
      }
      return; // the update comes back as an event; failurePolicy is handled then
    }
    if (!validating || webhooks.every((w) => w.failurePolicy === 'Fail')) return;
    if (!this.validated) {
      this.validated = await this.o.validationWorks().catch(() => false);
      if (!this.validated) {
        this.o.log.info({ config: name }, 'validation webhook not reachable through the API server yet; failurePolicy stays Ignore');
        if (!this.retry) this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.patch(path, config);
        }, 2000);
        return;
      }
    }
    try {
      const fresh = await this.o.api.request<KubeObject>('GET', `${path}/${name}`);
      const hooks = ((fresh.webhooks ?? []) as Obj[]).map((w) => ({ ...w, failurePolicy: 'Fail' }));
      await this.o.api.request('PUT', `${path}/${name}`, { body: { ...fresh, webhooks: hooks } });
      this.o.log.info({ config: name }, 'validation answered: failurePolicy set to Fail');
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) this.o.log.warn({ config: name, err: errorMessage(err) }, 'cannot set failurePolicy');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await Promise.all(this.reflectors.splice(0).map((r) => r.close()));
  }
}
