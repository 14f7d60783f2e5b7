/**
 * `node bench/controlplane/run-controlplane.ts [N ...] [--services M] [--endpoints E] [--cpu-prof DIR] [--node-arg FLAG]... [--discovery-stdout FILE] [--json FILE] [--mizzen PATH/bin/mizzen.js] [--subscribe named|wildcard] [--streams-per-connection K] [--edits K]`:
 * the control-plane convergence benchmark alone (no root needed), e.g. for profiling discovery.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runControlplaneBench } from './controlplane-bench.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    services: { type: 'string', default: '1000' },
    endpoints: { type: 'string', default: '10' },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
    'discovery-stdout': { type: 'string' },
    mizzen: { type: 'string' },
    subscribe: { type: 'string', default: 'named' },
    'streams-per-connection': { type: 'string', default: '100' },
    edits: { type: 'string', default: '1' },
  },
});
const proxies = positionals.length ? positionals.map(Number) : [100];
const log = (l: string): void => void process.stdout.write(l + '\n');
log(`load average before: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const rows = await runControlplaneBench({
  proxies,
  shape: { services: Number(values.services), endpointsPerService: Number(values.endpoints), namespace: 'bench' },
  log,
  subscribe: values.subscribe === 'wildcard' ? 'wildcard' : 'named',
  streamsPerConnection: Number(values['streams-per-connection']),
  edits: Number(values.edits),
  ...(values['cpu-prof'] ? { cpuProfDir: values['cpu-prof'] } : {}),
  ...(values['node-arg'] ? { discoveryNodeArgs: values['node-arg'] } : {}),
  ...(values['discovery-stdout'] ? { discoveryStdout: values['discovery-stdout'] } : {}),
  ...(values.mizzen ? { discoveryBin: values.mizzen } : {}),
});
log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
