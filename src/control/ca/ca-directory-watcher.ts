import { statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { PLUG_IN_FILES } from './signing-authority.ts';

export interface CaDirectoryWatcherOptions {
  caDir: string;
  /** Re-read the CA directory: true when the CA changed; throws (keeping the CA in force) when the files are not usable. */
  reload: () => boolean;
  log: Logger;
  /** How often the files are checked (default 1 s). */
  intervalMs?: number;
}

/**
 * istiod's watch of its mounted plug-in CA directory (`/etc/cacerts`, Secret `cacerts`) outside
 * the Kubernetes watch: the plug-in files (ca-cert.pem, ca-key.pem, cert-chain.pem,
 * root-cert.pem) are checked every second; once a change has settled (the same on two checks
 * in a row: the files are written one after another) the CA reloads, so a root rotation
 * (root-cert.pem with the old and the new root, then the signing certificate under the new
 * root, then the old root dropped) takes effect without a restart. Files that do not make a
 * usable CA are reported and the CA in force is kept.
 */
export class CaDirectoryWatcher {
  private readonly o: CaDirectoryWatcherOptions;
  private timer: NodeJS.Timeout | undefined;
  private applied: string;
  private pending: string | undefined;
  /** Why the last change was not taken (cleared by a usable one). */
  problem: string | undefined;

  constructor(o: CaDirectoryWatcherOptions) {
    this.o = o;
    this.applied = this.fingerprint();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private fingerprint(): string {
    return PLUG_IN_FILES.map((f) => {
      try {
        const s = statSync(join(this.o.caDir, f));
        return `${f}:${s.mtimeMs}:${s.size}:${s.ino}`;
      } catch {
        return `${f}:absent`;
      }
    }).join('|');
  }

  /** One check (the timer's; tests call it directly). */
  check(): void {
    const now = this.fingerprint();
    if (now === this.applied) {
      this.pending = undefined;
      return;
    }
    if (now !== this.pending) {
      this.pending = now; // wait for the writer to finish
      return;
    }
    this.pending = undefined;
    this.applied = now;
    try {
      const changed = this.o.reload();
      this.problem = undefined;
      if (changed) this.o.log.info({ caDir: this.o.caDir }, 'plug-in CA files changed: CA reloaded');
    } catch (err) {
      this.problem = errorMessage(err);
      this.o.log.error({ caDir: this.o.caDir, err: this.problem }, 'plug-in CA files changed but are not usable; the CA in force is kept');
    }
  }
}
