import { randomBytes } from 'node:crypto';
import { errorMessage } from '../lib/errors.ts';
import type { KubeApi } from '../lib/kube/kube-api.ts';
import type { Logger } from '../lib/log.ts';

export interface EventSubject {
  namespace: string;
  name: string;
  uid: string;
  /** `spec.containers{NAME}` for a container's events. */
  fieldPath?: string;
}

/**
 * The kubelet's core/v1 Events about pods (source `kubelet`, host = node name), so that
 * `kubectl describe pod` and `kubectl get events` show what the node did. A repeat of the same
 * event is counted on the existing object, as client-go's event correlator does.
 */
export class EventRecorder {
  private readonly api: KubeApi;
  private readonly nodeName: string;
  private readonly log: Logger;
  private readonly seen = new Map<string, { name: string; count: number; first: string }>();
  private queue: Promise<void> = Promise.resolve();

  constructor(o: { api: KubeApi; nodeName: string; log: Logger }) {
    this.api = o.api;
    this.nodeName = o.nodeName;
    this.log = o.log;
  }

  record(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = `${subject.namespace}/${subject.uid}/${subject.fieldPath ?? ''}/${reason}/${message}`;
    this.queue = this.queue.then(() => this.send(key, subject, type, reason, message)).catch((err: unknown) => this.log.debug({ err: errorMessage(err), reason }, 'event not recorded'));
  }

  /** Forget the events of a pod that is gone. */
  forget(uid: string): void {
    for (const k of [...this.seen.keys()]) if (k.split('/')[1] === uid) this.seen.delete(k);
  }

  private async send(key: string, s: EventSubject, type: string, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    const prev = this.seen.get(key);
    const path = `/api/v1/namespaces/${s.namespace}/events`;
    if (prev) {
      prev.count++;
      await this.api.request('PATCH', `${path}/${prev.name}`, { body: { count: prev.count, lastTimestamp: now.replace(/\.\d{3}Z$/, 'Z') }, contentType: 'application/merge-patch+json' });
      return;
    }
    const name = `${s.name}.${randomBytes(8).toString('hex')}`;
    const stamp = now.replace(/\.\d{3}Z$/, 'Z');
    await this.api.request('POST', path, {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: s.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: s.namespace, name: s.name, uid: s.uid, ...(s.fieldPath ? { fieldPath: s.fieldPath } : {}) },
        reason,
        message,
        type,
        source: { component: 'kubelet', host: this.nodeName },
        reportingComponent: 'kubelet',
        reportingInstance: this.nodeName,
        firstTimestamp: stamp,
        lastTimestamp: stamp,
        count: 1,
      },
    });
    this.seen.set(key, { name, count: 1, first: stamp });
  }
}
