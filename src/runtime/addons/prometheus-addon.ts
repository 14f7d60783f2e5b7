import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ConfigResource } from '../../api/config-resource.ts';
import type { Clock } from '../../lib/clock.ts';
import { MizzenError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { ContainerProblem } from '../container-problems.ts';
import { NodeProcess } from '../node-process.ts';
import type { BackoffOptions } from '../supervised-process.ts';
import { kubernetesPodTargets } from './kubernetes-sd-targets.ts';
import { renderPrometheusConfig } from './prometheus-config.ts';

/** Prometheus' port in the node namespace (the addon's Service port in Istio's samples). */
export const PROMETHEUS_PORT = 9090;

export interface PrometheusAddonOptions {
  netns: string;
  /** The node's address: Prometheus listens there (pods and the node agent reach it). */
  address: string;
  stateDir: string;
  env: Record<string, string>;
  clock: Clock;
  log: Logger;
  backoff?: BackoffOptions;
  /** Scrape interval in seconds (default 5). */
  intervalSeconds?: number;
  /** The prometheus binary (default: found on PATH, Debian's /usr/bin/prometheus). */
  binary?: string;
}

/** The prometheus binary: the given one, else on PATH (Debian's package installs /usr/bin/prometheus). */
export function findPrometheus(path: string | undefined): string | undefined {
  for (const dir of [...(path ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, 'prometheus'))) return join(dir, 'prometheus');
  }
  return undefined;
}

/**
 * `mizzen up --addons prometheus`: Debian's Prometheus in the node namespace with Istio's scrape
 * configuration (prometheus-config.ts). The runtime hands it the Pod objects it writes for the
 * control plane (and discovery as istiod's pod, annotated for 15014); they go to a file_sd file
 * that Prometheus re-reads on change. Data lives in STATE/addons/prometheus and goes with the mesh.
 */
export class PrometheusAddon {
  private readonly o: PrometheusAddonOptions;
  private readonly dir: string;
  private readonly targetsFile: string;
  private readonly process: NodeProcess;
  private lastTargets = '';

  constructor(o: PrometheusAddonOptions) {
    this.o = o;
    const binary = o.binary ?? findPrometheus(o.env.PATH);
    if (!binary) {
      throw new MizzenError('RUNTIME_FAILED', 'the prometheus addon needs Prometheus, which is not installed', { hint: 'apt-get install prometheus (Debian/Ubuntu), or put a prometheus binary on PATH' });
    }
    this.dir = join(o.stateDir, 'addons', 'prometheus');
    this.targetsFile = join(this.dir, 'pods.json');
    this.process = new NodeProcess({
      name: 'prometheus',
      label: 'prometheus addon',
      netns: o.netns,
      argv: [
        binary,
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        '--storage.tsdb.retention.time=1d',
        `--web.listen-address=${o.address}:${PROMETHEUS_PORT}`,
        '--log.level=warn',
      ],
      env: o.env,
      cwd: this.dir,
      logFile: join(o.stateDir, 'logs', 'prometheus.log'),
      ready: { host: o.address, port: PROMETHEUS_PORT, path: '/-/ready', periodMs: 5000 },
      clock: o.clock,
      log: o.log,
      backoff: o.backoff,
    });
  }

  /** Where Prometheus listens inside the mesh (the node's address). */
  get address(): { ip: string; port: number } {
    return { ip: this.o.address, port: PROMETHEUS_PORT };
  }

  start(): void {
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    this.writeAtomic(this.targetsFile, '[]\n');
    this.writeAtomic(
      join(this.dir, 'prometheus.yml'),
      renderPrometheusConfig({ selfAddress: `${this.o.address}:${PROMETHEUS_PORT}`, podTargetsFile: this.targetsFile, intervalSeconds: this.o.intervalSeconds ?? 5 }),
    );
    this.process.start();
  }

  /** The pods to discover (Pod objects as the control plane sees them); rewritten only on change. */
  setPods(pods: readonly ConfigResource[]): void {
    const text = `${JSON.stringify(kubernetesPodTargets(pods), null, 1)}\n`;
    if (text === this.lastTargets) return;
    this.lastTargets = text;
    this.writeAtomic(this.targetsFile, text);
  }

  isReady(): boolean {
    return this.process.isReady();
  }

  problem(): ContainerProblem | undefined {
    return this.process.problem();
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** Prometheus watches the file: it must never see half of it. */
  private writeAtomic(file: string, text: string): void {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }
}

/** istiod's pod as Prometheus would discover it: discovery's address, annotated for 15014. */
export function discoveryPodObject(address: string): ConfigResource {
  const metadata = {
    name: 'istiod-mizzen',
    namespace: 'istio-system',
    labels: { app: 'istiod', istio: 'pilot' },
    annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15014' },
  };
  const spec = { nodeName: 'mizzen-node', containers: [{ name: 'discovery', image: 'mizzen/discovery', ports: [{ containerPort: 15010 }, { containerPort: 15012 }, { containerPort: 15014, name: 'http-monitoring' }] }] };
  const status = { phase: 'Running', podIP: address, hostIP: address, conditions: [{ type: 'Ready', status: 'True' }] };
  return { apiVersion: 'v1', kind: 'Pod', group: '', version: 'v1', metadata, spec, raw: { apiVersion: 'v1', kind: 'Pod', metadata, spec, status } };
}
