import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import { Reflector, type KubeObject } from '../lib/kube/reflector.ts';
import type { Logger } from '../lib/log.ts';
import type { ConfigError } from '../control/config/sources/config-error.ts';
import { PLUG_IN_FILES } from '../control/ca/signing-authority.ts';
import { isPlugIn, PLUG_IN_SECRET, plugInFingerprint, writePlugInFiles, type Secret } from './ca-secrets.ts';

export interface PlugInCaWatcherOptions {
  api: KubeApi;
  namespace: string;
  /** The directory the running CA reads its keys from. */
  caDir: string;
  log: Logger;
  /** Re-read caDir (throws when the files are invalid, keeping the CA in force); true when it changed. */
  reload: () => boolean;
  /** After a successful reload: push the new root where it is published. */
  onReloaded: () => void;
}

/**
 * istiod's cacerts watch (every replica, each reloads its own CA): Secret `cacerts` in the
 * system namespace is watched; a new or changed plug-in CA is written to the CA directory and
 * the CA reloads, so new certificates, discovery's serving certificates and the published root
 * (`istio-ca-root-cert`, webhook caBundle) follow without a restart. An invalid Secret is
 * reported and the CA in force is kept (its files put back); a deleted one changes nothing
 * until a restart (then `istio-ca-secret` is used), as istiod.
 */
export class PlugInCaWatcher {
  private readonly o: PlugInCaWatcherOptions;
  private reflector: Reflector | undefined;
  private lastSeen: string | undefined;
  /** Why the last cacerts was not taken, for /debug/configz (cleared by a usable one). */
  problem: ConfigError | undefined;

  constructor(options: PlugInCaWatcherOptions) {
    this.o = options;
  }

  start(): void {
    this.reflector = new Reflector({
      api: this.o.api,
      path: `/api/v1/namespaces/${this.o.namespace}/secrets`,
      fieldSelector: `metadata.name=${PLUG_IN_SECRET}`,
      what: `Secret ${this.o.namespace}/${PLUG_IN_SECRET}`,
      apiVersion: 'v1',
      kind: 'Secret',
      log: this.o.log,
      onSync: (items) => this.seen(items[0]),
      onEvent: (type, obj) => this.seen(type === 'DELETED' ? undefined : obj),
    });
    this.reflector.start();
  }

  private seen(obj: KubeObject | undefined): void {
    const secret = obj as Secret | undefined;
    const fp = plugInFingerprint(secret);
    if (fp === this.lastSeen) return;
    const first = this.lastSeen === undefined;
    this.lastSeen = fp;
    const where = `Secret ${this.o.namespace}/${PLUG_IN_SECRET}`;
    if (!isPlugIn(secret)) {
      if (!first) this.o.log.warn({ secret: where }, `${where} is gone or holds no ca-cert.pem/ca-key.pem: the CA in force is kept until discovery restarts`);
      return;
    }
    const names = [...PLUG_IN_FILES, 'root-key.pem'];
    const before = new Map(names.map((f) => [f, existsSync(join(this.o.caDir, f)) ? readFileSync(join(this.o.caDir, f)) : undefined]));
    try {
      writePlugInFiles(secret, this.o.caDir);
      const changed = this.o.reload();
      this.problem = undefined;
      if (changed) {
        this.o.log.info({ secret: where }, `CA reloaded from ${where}`);
        this.o.onReloaded();
      }
    } catch (err) {
      for (const [f, content] of before) {
        if (content) writeFileSync(join(this.o.caDir, f), content, { mode: 0o600 });
        else rmSync(join(this.o.caDir, f), { force: true });
      }
      this.problem = { resource: `Secret ${this.o.namespace}/${PLUG_IN_SECRET}`, message: `not a usable plug-in CA, the CA in force is kept: ${errorMessage(err)}`, level: 'error' };
      this.o.log.error({ secret: where, err: errorMessage(err) }, `${where} is not a usable plug-in CA; the CA in force is kept`);
    }
  }

  async close(): Promise<void> {
    await this.reflector?.close();
    this.reflector = undefined;
  }
}
