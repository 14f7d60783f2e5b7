import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * `mizzen up` runs commands, not container images. Istio's samples and task pages use a few
 * images whose program Mizzen ships (examples/) or finds on the host, so their manifests run
 * unchanged: this maps such an image, with the command/args the manifest gives, to an argv.
 *
 *  - docker.io/mccutchen/go-httpbin (samples/httpbin), docker.io/kennethreitz/httpbin (the
 *    mirroring task's `gunicorn --access-logfile - -b 0.0.0.0:80 httpbin:app`): examples/httpbin;
 *  - registry.istio.io/testing/ext-authz (samples/extauthz): examples/extauthz;
 *  - registry.istio.io/release/tcp-echo-server (samples/tcp-echo, `args: [PORTS, PREFIX]`): examples/tcp-echo;
 *  - docker.io/fortio/fortio (samples/httpbin/sample-client): the `fortio` binary on PATH or in
 *    Mizzen's cache (scripts/fortio.sh installs it), `fortio server` by default.
 *
 * Other images run their command as given (a container without one fails with a clear message).
 */
export interface SampleCommand {
  argv: string[];
  /** Paths the process must be able to read when it runs as another user (the checkout). */
  reads: string[];
}

const REPO = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
/** Where scripts/fortio.sh puts the fortio binary (Mizzen's cache, keyed by version). */
export const FORTIO_VERSION = '1.63.0';
const fortioCache = (env: Readonly<Record<string, string | undefined>>): string[] => [
  `/var/cache/mizzen/fortio-${FORTIO_VERSION}/fortio`,
  join(env.HOME ?? '/root', '.cache/mizzen', `fortio-${FORTIO_VERSION}`, 'fortio'),
];

/** `registry/path/name:tag@digest` → `path/name` without registry host, tag or digest. */
export function imageName(image: string): string {
  let s = image.split('@')[0];
  const lastSlash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  if (colon > lastSlash) s = s.slice(0, colon);
  const parts = s.split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) parts.shift();
  return parts.join('/');
}

/** `-flag value` / `--flag=value` from an argv. */
function option(argv: readonly string[], ...names: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    for (const n of names) {
      if (argv[i] === n) return argv[i + 1];
      if (argv[i].startsWith(`${n}=`)) return argv[i].slice(n.length + 1);
    }
  }
  return undefined;
}

function onPath(bin: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}

/** The fortio binary: Mizzen's cache first (the pinned version), then the PATH of `env`. */
export function fortioBinary(env: Readonly<Record<string, string | undefined>>): string | undefined {
  return fortioCache(env).find((p) => existsSync(p)) ?? onPath('fortio', env);
}

const KNOWN = new Set(['mccutchen/go-httpbin', 'kennethreitz/httpbin', 'testing/ext-authz', 'istio/ext-authz', 'fortio/fortio', 'release/tcp-echo-server', 'istio/tcp-echo-server']);

/** An image `mizzen up` knows how to run without a command (see above). */
export function knownSampleImage(image: unknown): boolean {
  return typeof image === 'string' && KNOWN.has(imageName(image));
}

const node = (script: string, args: string[]): SampleCommand => ({ argv: ['node', join(REPO, script), ...args], reads: [REPO] });

/** The argv for a known sample image, or undefined (run the manifest's command as given); `env` gives PATH and HOME. */
export function sampleCommand(image: string | undefined, command: readonly string[], args: readonly string[], env: Readonly<Record<string, string | undefined>>): SampleCommand | undefined {
  if (!image) return undefined;
  const name = imageName(image);
  const argv = [...command, ...args];
  switch (name) {
    case 'mccutchen/go-httpbin': {
      // entrypoint /bin/go-httpbin, -port (default 8080 or $PORT)
      if (command.length > 0 && !command[0].endsWith('go-httpbin')) return undefined;
      const port = option(argv, '-port', '--port') ?? '8080';
      return node('examples/httpbin/httpbin.ts', ['--port', port, '--flavor', 'go', '--access-log']);
    }
    case 'kennethreitz/httpbin': {
      // gunicorn -b 0.0.0.0:80 httpbin:app (the image's CMD, or as the mirroring task writes it)
      if (argv.length > 0 && !argv[0].endsWith('gunicorn')) return undefined;
      const bind = option(argv, '-b', '--bind') ?? '0.0.0.0:80';
      const port = bind.slice(bind.lastIndexOf(':') + 1) || '80';
      const log = argv.length === 0 || option(argv, '--access-logfile') !== undefined;
      return node('examples/httpbin/httpbin.ts', ['--port', port, '--flavor', 'python', ...(log ? ['--access-log'] : [])]);
    }
    case 'testing/ext-authz':
    case 'istio/ext-authz': {
      if (command.length > 0 && !command[0].includes('ext-authz') && !command[0].includes('extauthz')) return undefined;
      const pass = args.filter((a) => /^-{1,2}(http|grpc|allow_service_account)(=|$)/.test(a) || !a.startsWith('-'));
      return node('examples/extauthz/ext-authz.ts', pass);
    }
    case 'release/tcp-echo-server':
    case 'istio/tcp-echo-server': {
      if (command.length > 0) return undefined;
      return node('examples/tcp-echo/tcp-echo.ts', args.length > 0 ? [...args] : ['9000', 'hello']);
    }
    case 'fortio/fortio': {
      const bin = fortioBinary(env);
      if (!bin) return { argv: ['sh', '-c', 'echo "fortio is not installed: run scripts/fortio.sh (go install fortio.org/fortio@v' + FORTIO_VERSION + ')" >&2; exit 1'], reads: [] };
      const rest = command.length > 0 && command[0].endsWith('fortio') ? [...command.slice(1), ...args] : argv;
      return { argv: [bin, ...(rest.length > 0 ? rest : ['server'])], reads: [bin] };
    }
    default:
      return undefined;
  }
}
