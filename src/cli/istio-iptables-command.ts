import type { Command } from 'commander';
import { renderCaptureRules, INBOUND_EXCLUDED_PORTS, type CaptureOptions } from '../runtime/capture-rules.ts';
import { runHostCommand } from '../runtime/host-command.ts';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';

interface Flags {
  envoyPort: string;
  inboundCapturePort: string;
  proxyUid: string;
  proxyGid?: string;
  istioInterceptionMode: string;
  istioServiceCidr: string;
  istioServiceExcludeCidr: string;
  istioInboundPorts: string;
  istioLocalExcludePorts: string;
  istioLocalOutboundPortsExclude: string;
  dryRun?: boolean;
}

const ports = (s: string): number[] => s.split(',').map((p) => p.trim()).filter((p) => p !== '' && p !== '*').map(Number).filter((n) => Number.isInteger(n) && n > 0 && n < 65536);

/**
 * The options `istio-iptables` flags describe, as Mizzen's capture supports them: REDIRECT mode,
 * capture of all outbound ranges (`-i '*'`) and of all inbound ports (`-b '*'`). Anything else is
 * refused rather than half applied.
 */
export function captureOptionsFromFlags(f: Flags): CaptureOptions {
  if (f.istioInterceptionMode !== 'REDIRECT') throw new Error(`interception mode ${f.istioInterceptionMode} is not supported (only REDIRECT)`);
  if (f.istioServiceCidr !== '*') throw new Error(`-i ${f.istioServiceCidr}: only '*' (capture every outbound range) is supported; exclude ranges with -x`);
  if (f.istioInboundPorts !== '*') throw new Error(`-b ${f.istioInboundPorts}: only '*' (capture every inbound port) is supported; exclude ports with -d`);
  if (Number(f.envoyPort) !== 15001 || Number(f.inboundCapturePort) !== 15006) throw new Error('only the proxy ports 15001 (-p) and 15006 (-z) are supported');
  const uid = Number(f.proxyUid);
  const ranges = f.istioServiceExcludeCidr.split(',').map((s) => s.trim()).filter(Boolean);
  for (const r of ranges) if (!/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(r)) throw new Error(`-x ${r}: not an IPv4 CIDR`);
  return {
    proxyUid: uid,
    proxyGid: f.proxyGid !== undefined ? Number(f.proxyGid) : uid,
    excludeInboundPorts: ports(f.istioLocalExcludePorts).filter((p) => !INBOUND_EXCLUDED_PORTS.includes(p)),
    excludeOutboundPorts: ports(f.istioLocalOutboundPortsExclude),
    excludeOutboundIpv4Ranges: ranges,
  };
}

/** `mizzen istio-iptables`: the injected istio-init container's command (capture rules with nft). */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('istio-iptables')
    .description("apply a pod's traffic capture (istio-init) in the current network namespace, from istio-iptables' flags; nft rules")
    .option('-p, --envoy-port <port>', 'outbound capture port', '15001')
    .option('-z, --inbound-capture-port <port>', 'inbound capture port', '15006')
    .option('-u, --proxy-uid <uid>', 'uid of the proxy (its traffic is not captured)', '1337')
    .option('-g, --proxy-gid <gid>', 'gid of the proxy (default: the uid)')
    .option('-m, --istio-inbound-interception-mode <mode>', 'REDIRECT', 'REDIRECT')
    .option('-i, --istio-service-cidr <cidrs>', "outbound ranges to capture ('*')", '*')
    .option('-x, --istio-service-exclude-cidr <cidrs>', 'outbound ranges not captured', '')
    .option('-b, --istio-inbound-ports <ports>', "inbound ports to capture ('*')", '*')
    .option('-d, --istio-local-exclude-ports <ports>', 'inbound ports not captured', '')
    .option('-o, --istio-local-outbound-ports-exclude <ports>', 'outbound ports not captured', '')
    .option('--dry-run', 'print the nft rules instead of applying them')
    .action(async (raw: Flags & { istioInboundInterceptionMode: string }) => {
      let rules: string;
      try {
        rules = renderCaptureRules(captureOptionsFromFlags({ ...raw, istioInterceptionMode: raw.istioInboundInterceptionMode }));
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 2;
        return;
      }
      if (raw.dryRun) return void ctx.stdout(rules);
      try {
        await runHostCommand('nft', ['-f', '-'], { input: rules });
        ctx.stdout('traffic capture applied (nft table inet mizzen_capture)\n');
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)} (hint: istio-init needs NET_ADMIN and nft in the image)\n`);
        ctx.exitCode = 1;
      }
    });
}
