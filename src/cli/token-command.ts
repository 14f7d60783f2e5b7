import type { Command } from 'commander';
import { DEFAULT_TOKEN_TTL_SECONDS, loadOrCreateTokenKey, mintServiceAccountToken } from '../control/ca/service-account-token.ts';
import { parseDuration } from '../lib/duration.ts';
import { errorMessage } from '../lib/errors.ts';
import type { CliContext } from './cli-context.ts';

interface TokenFlags {
  caDir: string;
  namespace: string;
  serviceAccount: string;
  ttl?: string;
}

/** `mizzen token`: print one local service-account token that the CA in --ca-dir accepts. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('token')
    .description('mint a local service-account token (JWT, aud istio-ca) that the CA in --ca-dir accepts')
    .requiredOption('--ca-dir <dir>', 'the CA directory of `mizzen discovery --ca-dir` (the signing key is created there if missing)')
    .requiredOption('-n, --namespace <ns>', 'namespace of the service account')
    .requiredOption('--service-account <sa>', 'service account name')
    .option('--ttl <duration>', `token lifetime, e.g. 1h or 3600s (default ${DEFAULT_TOKEN_TTL_SECONDS / 3600}h)`)
    .action(async (flags: TokenFlags) => {
      let ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS;
      if (flags.ttl !== undefined) {
        const ms = parseDuration(flags.ttl);
        if (ms === undefined || ms < 1000) {
          ctx.stderr(`error: --ttl ${JSON.stringify(flags.ttl)} is not a duration of at least 1s (examples: 3600s, 1h, 30m)\n`);
          ctx.exitCode = 2;
          return;
        }
        ttlSeconds = Math.floor(ms / 1000);
      }
      for (const [flag, value] of [['--namespace', flags.namespace], ['--service-account', flags.serviceAccount]] as const) {
        // Kubernetes names are lower case, but any SPIFFE path segment is accepted (e.g. `X`).
        if (!/^[A-Za-z0-9._-]+$/.test(value)) {
          ctx.stderr(`error: ${flag} ${JSON.stringify(value)} is not a valid name (letters, digits, '.', '_', '-')\n`);
          ctx.exitCode = 2;
          return;
        }
      }
      try {
        const { privateKey } = loadOrCreateTokenKey(flags.caDir);
        const token = await mintServiceAccountToken({ key: privateKey, namespace: flags.namespace, serviceAccount: flags.serviceAccount, ttlSeconds });
        ctx.stdout(token + '\n');
      } catch (err) {
        ctx.stderr(`error: ${errorMessage(err)}\n`);
        ctx.exitCode = 1;
      }
    });
}
