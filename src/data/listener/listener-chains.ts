import type { Logger } from '../../lib/log.ts';
import { ChainConnections } from './chain-drain.ts';
import { listenerShapeKey, type FilterChainSpec, type ListenerSpec } from './listener-config.ts';

/**
 * The filter chains of a proxy's listeners across updates, as Envoy keeps them: a chain whose
 * config did not change survives an update with its connections ("the corresponding filter chain
 * runtime info survives"); a chain the update removes or changes is drained (its connections told
 * to close, the rest closed after the drain period). Tracks each chain's open connections (a chain
 * object is shared by old and new specs while unchanged) and the chains draining now.
 */
export class ListenerChains {
  private readonly conns = new WeakMap<FilterChainSpec, ChainConnections>();
  private readonly draining = new Set<ChainConnections>();
  private readonly drainMs: number;
  private readonly log: Logger;

  constructor(drainMs: number, log: Logger) {
    this.drainMs = drainMs;
    this.log = log;
  }

  /**
   * The spec to run for `incoming` replacing `old` on the same address: unchanged chains keep their
   * running objects when the listener's shape (everything but its chains) is the same; every chain
   * of `old` not kept starts draining.
   */
  update(old: ListenerSpec, incoming: ListenerSpec): ListenerSpec {
    const spec = listenerShapeKey(old) === listenerShapeKey(incoming) ? keepUnchangedChains(old, incoming) : incoming;
    this.drain(old, chainsOf(spec));
    return spec;
  }

  /** A listener removed or rebound: all its chains drain. */
  retire(old: ListenerSpec): void {
    this.drain(old, []);
  }

  /** The open connections of one chain. */
  of(chain: FilterChainSpec): ChainConnections {
    let c = this.conns.get(chain);
    if (!c) {
      c = new ChainConnections();
      this.conns.set(chain, c);
    }
    return c;
  }

  /** Chains draining now. */
  get drainingCount(): number {
    return this.draining.size;
  }

  /** Open connections on the chains of `spec`, and on every draining chain. */
  counts(spec: ListenerSpec | undefined): { active: number; draining: number } {
    let active = 0;
    for (const c of spec ? chainsOf(spec) : []) active += this.conns.get(c)?.size ?? 0;
    let draining = 0;
    for (const c of this.draining) draining += c.size;
    return { active, draining };
  }

  /** Drain the open connections of `spec`'s chains without a period (graceful termination). */
  drainOpen(spec: ListenerSpec): void {
    for (const chain of chainsOf(spec)) this.of(chain).drainOpen();
  }

  /** End every drain now (proxy shutdown): their connections close. */
  finish(): void {
    for (const c of [...this.draining]) c.finish();
    this.draining.clear();
  }

  /** Drain the chains of `old` that are not among `kept`. */
  private drain(old: ListenerSpec, kept: readonly FilterChainSpec[]): void {
    const keep = new Set(kept);
    let connections = 0;
    let chains = 0;
    for (const chain of chainsOf(old)) {
      if (keep.has(chain)) continue;
      chains++;
      const conns = this.of(chain);
      connections += conns.size;
      this.draining.add(conns);
      conns.startDrain(this.drainMs, () => this.draining.delete(conns));
    }
    if (chains > 0) this.log.info({ listener: old.name, chains, connections, drainMs: this.drainMs }, 'listener update: draining filter chains');
  }
}

function chainsOf(l: ListenerSpec): FilterChainSpec[] {
  return l.defaultChain ? [...l.filterChains, l.defaultChain] : [...l.filterChains];
}

/**
 * The incoming listener with each chain whose config did not change replaced by the chain object
 * already running, so its connections, filters and counters carry on.
 */
function keepUnchangedChains(old: ListenerSpec, incoming: ListenerSpec): ListenerSpec {
  const byKey = new Map<string, FilterChainSpec[]>();
  for (const c of chainsOf(old)) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
  const reuse = (c: FilterChainSpec): FilterChainSpec => byKey.get(c.key)?.shift() ?? c;
  return { ...incoming, filterChains: incoming.filterChains.map(reuse), defaultChain: incoming.defaultChain ? reuse(incoming.defaultChain) : undefined };
}
