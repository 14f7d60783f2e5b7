import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMeshState } from '../../src/runtime/runtime-state.ts';
import { CLI_ENTRY, leftovers, REPO, rootSkipReason, tempDir, waitFor } from './netns-test-support.ts';

/**
 * Istio's task pages followed literally through the real CLI, `kubectl` and `istioctl` replaced
 * by `mizzen` (a `mizzen` on PATH, `samples/` as in Istio's release): Bookinfo's ingress set-up,
 * Request Routing, Fault Injection, Traffic Shifting and Request Timeouts (heredocs included),
 * then kubectl habits on the same mesh (label, rollout restart under load, port-forward) and
 * `mizzen diff` on Istio's samples. The page checks are what the pages tell the reader to look
 * for in the browser (stars, error texts, delays), through the ingress gateway.
 */
const SAMPLES = join(REPO, '../shared/istio/istio/samples');
const skip = (await rootSkipReason()) || (!existsSync(join(SAMPLES, 'bookinfo/networking')) ? `Istio's samples are missing (${SAMPLES})` : false);

describe("Istio's traffic-management task pages, literally, with mizzen", { skip, timeout: 900_000 }, () => {
  let dir: string;
  let prefix = '';
  let gateway = '';
  let cookie = '';

  /** Run a page's commands in bash, `mizzen` on PATH, from a directory holding Istio's `samples/`. */
  const sh = (script: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn('bash', ['-eo', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  const ok = async (script: string): Promise<string> => {
    const r = await sh(script);
    assert.equal(r.code, 0, `${script}\n${r.stderr}`);
    return r.stdout;
  };
  /** The product page as the reader sees it, signed in (jason) or not, and how long it took. */
  const page = async (asJason = false): Promise<{ status: number; html: string; ms: number }> => {
    const t0 = Date.now();
    const res = await fetch(`http://${gateway}/productpage`, { headers: asJason ? { cookie } : {} });
    return { status: res.status, html: await res.text(), ms: Date.now() - t0 };
  };
  const stars = (html: string): 'none' | 'black' | 'red' | 'unavailable' => {
    if (html.includes('Ratings service is currently unavailable')) return 'unavailable';
    if (html.includes('<font color="red">')) return 'red';
    if (html.includes('<font color="black">')) return 'black';
    return 'none';
  };
  /** Config takes a push to reach the proxies: wait until the page shows what the task says. */
  const eventually = (what: string, check: () => Promise<boolean>): Promise<boolean> => waitFor(what, check, 60_000);
  /** Wait until `get()` gives `want`; on timeout, fail showing the last answer against it. */
  const eventuallyEqual = async (what: string, get: () => Promise<string>, want: string): Promise<void> => {
    let last = '';
    try {
      await waitFor(what, async () => (last = await get()) === want, 60_000);
    } catch {
      assert.equal(last, want, `timed out waiting for ${what}`);
    }
  };
  const onlyStars = async (want: ReturnType<typeof stars>, asJason: boolean, n = 8): Promise<boolean> => {
    for (let i = 0; i < n; i++) if (stars((await page(asJason)).html) !== want) return false;
    return true;
  };

  before(async () => {
    dir = tempDir('tasks');
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'mizzen'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_ENTRY}" "$@"\n`);
    chmodSync(join(dir, 'bin', 'mizzen'), 0o755);
    symlinkSync(SAMPLES, join(dir, 'samples'));
    const up = await ok(`mizzen up -d ${join(REPO, 'examples/bookinfo')} --ingress-gateway --timeout 300s`);
    prefix = readMeshState(join(dir, '.mizzen'))?.prefix ?? '';
    const url = /ingress gateway: http:\/\/(127\.0\.0\.1:\d+)/.exec(up);
    assert.ok(url, up);
    gateway = url[1];
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(join(dir, '.mizzen'))) await sh('mizzen down');
    if (prefix) assert.deepEqual(await leftovers(prefix, []), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('Bookinfo: apply the gateway, determine the ingress IP and port, apply the default destination rules', async () => {
    await ok('mizzen apply -f samples/bookinfo/networking/bookinfo-gateway.yaml');
    const host = await ok(`mizzen -n istio-system get service istio-ingressgateway -o jsonpath='{.status.loadBalancer.ingress[0].ip}'`);
    const port = await ok(`mizzen -n istio-system get service istio-ingressgateway -o jsonpath='{.spec.ports[?(@.name=="http2")].port}'`);
    const nodePort = await ok(`mizzen -n istio-system get service istio-ingressgateway -o jsonpath='{.spec.ports[?(@.name=="http2")].nodePort}'`);
    assert.equal(host, '127.0.0.1');
    assert.equal(port, '80');
    // The load balancer listens on 80 unless another process holds it; then nodePort says where.
    assert.equal(`${host}:${nodePort}`, gateway);
    assert.match(await ok('mizzen get gateway'), /^NAME\s+AGE\nbookinfo-gateway\s/);
    await ok('mizzen apply -f samples/bookinfo/networking/destination-rule-all.yaml');
    // kubectl prints a list's fields in order: apiVersion, items, kind, metadata
    assert.match(await ok('mizzen get destinationrules -o yaml'), /^apiVersion: v1\nitems:\n[\s\S]*\n {6}name: reviews\n[\s\S]*\nkind: List\nmetadata:\n/);
    await eventually('the page through the gateway', async () => (await page()).status === 200);
    const login = await fetch(`http://${gateway}/login`, { method: 'POST', body: new URLSearchParams({ username: 'jason', passwd: '' }), redirect: 'manual' });
    assert.equal(login.status, 302);
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    assert.ok(cookie.startsWith('session='));
  });

  it('Request routing: all traffic to v1, then jason to v2', async (t) => {
    t.after(() => sh('mizzen delete --ignore-not-found -f samples/bookinfo/networking/virtual-service-all-v1.yaml'));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
    const vs = await ok('mizzen get virtualservices -o yaml');
    for (const name of ['details', 'productpage', 'ratings', 'reviews']) assert.match(vs, new RegExp(`name: ${name}\\n`));
    assert.match(await ok('mizzen get destinationrules -o yaml'), /subsets:/);
    await eventually('no stars, whoever asks', async () => (await onlyStars('none', false)) && (await onlyStars('none', true, 3)));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml');
    assert.match(await ok('mizzen get virtualservice reviews -o yaml'), /end-user:\n\s+exact: jason/);
    await eventually('jason sees black stars', () => onlyStars('black', true));
    assert.ok(await onlyStars('none', false), 'everyone else still sees v1');
    await ok('mizzen delete -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
  });

  it('Fault injection: a 7 s delay for jason breaks the page after ~6 s; an abort shows ratings unavailable', async (t) => {
    t.after(() => sh('mizzen delete --ignore-not-found -f samples/bookinfo/networking/virtual-service-all-v1.yaml'));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml');
    await eventually('jason on v2', () => onlyStars('black', true, 3));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-ratings-test-delay.yaml');
    assert.match(await ok('mizzen get virtualservice ratings -o yaml'), /fixedDelay: 7s/);
    const delayed = await eventually('the delay reaches jason', async () => (await page(true)).html.includes('Sorry, product reviews are currently unavailable for this book.'));
    assert.ok(delayed);
    const p = await page(true);
    assert.ok(p.html.includes('Sorry, product reviews are currently unavailable for this book.'));
    assert.ok(p.ms >= 5500, `productpage gives up after two 3 s calls to reviews (${p.ms} ms)`);
    assert.ok((await page()).ms < 5000, 'other users are not delayed');
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-ratings-test-abort.yaml');
    await eventually('jason sees the ratings error', () => onlyStars('unavailable', true, 3));
    assert.ok(await onlyStars('none', false, 3), 'other users are not aborted');
    await ok('mizzen delete -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
  });

  it('Traffic shifting: 50 % to v3, then all of it', async (t) => {
    t.after(() => sh('mizzen delete --ignore-not-found -f samples/bookinfo/networking/virtual-service-all-v1.yaml'));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-reviews-50-v3.yaml');
    assert.match(await ok('mizzen get virtualservice reviews -o yaml'), /weight: 50/);
    await eventually('both v1 and v3', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add(stars((await page()).html));
      return seen.has('none') && seen.has('red') && seen.size === 2;
    });
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-reviews-v3.yaml');
    await eventually('only v3', () => onlyStars('red', false, 10));
    await ok('mizzen delete -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
  });

  it('Request timeouts: heredocs, a 2 s ratings delay, then a 0.5 s reviews timeout', async (t) => {
    t.after(() => sh('mizzen delete --ignore-not-found -f samples/bookinfo/networking/virtual-service-all-v1.yaml'));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
    await ok(`mizzen apply -f - <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
    - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v2
EOF`);
    await ok(`mizzen apply -f - <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - fault:
      delay:
        percentage:
          value: 100
        fixedDelay: 2s
    route:
    - destination:
        host: ratings
        subset: v1
EOF`);
    await eventually('stars after about 2 s', async () => {
      const p = await page();
      return stars(p.html) === 'black' && p.ms >= 1900;
    });
    await ok(`mizzen apply -f - <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v2
    timeout: 0.5s
EOF`);
    await eventually('reviews unavailable after about 1 s', async () => {
      const p = await page();
      return p.html.includes('Sorry, product reviews are currently unavailable for this book.') && p.ms < 1900;
    });
    await ok('mizzen delete -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
  });

  it('Ingress gateways: httpbin (the sample image) behind a Gateway and VirtualService from heredocs', async (t) => {
    t.after(() => sh('set +e; mizzen delete --ignore-not-found gateway httpbin-gateway; mizzen delete --ignore-not-found virtualservice httpbin; mizzen delete --ignore-not-found -f samples/httpbin/httpbin.yaml'));
    await ok('mizzen apply -f samples/httpbin/httpbin.yaml');
    await ok(`mizzen apply -f - <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: httpbin-gateway
spec:
  # The selector matches the ingress gateway pod labels.
  # If you installed Istio using Helm following the standard documentation, this would be "istio=ingress"
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "httpbin.example.com"
EOF`);
    await ok(`mizzen apply -f - <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts:
  - "httpbin.example.com"
  gateways:
  - httpbin-gateway
  http:
  - match:
    - uri:
        prefix: /status
    - uri:
        prefix: /delay
    route:
    - destination:
        port:
          number: 8000
        host: httpbin
EOF`);
    assert.match(await ok('mizzen get svc istio-ingressgateway -n istio-system'), /istio-ingressgateway\s+LoadBalancer\s+10\.96\.\d+\.\d+\s+127\.0\.0\.1\s/);
    const [host, port] = gateway.split(':');
    const curl = (path: string): Promise<string> => ok(`export INGRESS_HOST=${host} INGRESS_PORT=${port}; curl -s -I -HHost:httpbin.example.com "http://$INGRESS_HOST:$INGRESS_PORT${path}"`);
    await eventually('httpbin through the gateway', async () => /^HTTP\/1\.1 200 OK/.test(await curl('/status/200')));
    assert.match(await curl('/status/200'), /^server: istio-envoy/im);
    assert.match(await curl('/headers'), /^HTTP\/1\.1 404 Not Found/);
    await ok('mizzen delete gateway httpbin-gateway');
    await ok('mizzen delete virtualservice httpbin');
    await ok('mizzen delete --ignore-not-found=true -f samples/httpbin/httpbin.yaml');
  });

  // five more injected pods and three 60 s waits of six `mizzen exec` each: over the default 180 s on two loaded cores
  it('Mutual TLS migration: foo and bar in the mesh, legacy outside; STRICT in foo, then mesh-wide', { timeout: 480_000 }, async (t) => {
    // Whatever happens, the next tests start without these namespaces and policies
    t.after(() => sh('set +e; mizzen delete --ignore-not-found peerauthentication -n istio-system default; mizzen delete --ignore-not-found ns foo bar legacy'));
    // The page injects with `istioctl kube-inject`; here the namespaces are labelled for injection instead.
    for (const ns of ['foo', 'bar']) {
      await ok(`mizzen create ns ${ns}`);
      await ok(`mizzen label namespace ${ns} istio-injection=enabled`);
      await ok(`mizzen apply -f samples/httpbin/httpbin.yaml -n ${ns}`);
      await ok(`mizzen apply -f samples/curl/curl.yaml -n ${ns}`);
    }
    await ok('mizzen create ns legacy');
    await ok('mizzen apply -f samples/curl/curl.yaml -n legacy');
    // The page's loop, in a shell that goes on after a refused curl (as the reader's does)
    const loop = async (): Promise<string> => (await sh(`set +e; for from in "foo" "bar" "legacy"; do for to in "foo" "bar"; do mizzen exec "$(mizzen get pod -l app=curl -n \${from} -o jsonpath={.items..metadata.name})" -c curl -n \${from} -- curl http://httpbin.\${to}:8000/ip -s -o /dev/null -w "curl.\${from} to httpbin.\${to}: %{http_code}\\n"; done; done`)).stdout;
    const all200 = 'curl.foo to httpbin.foo: 200\ncurl.foo to httpbin.bar: 200\ncurl.bar to httpbin.foo: 200\ncurl.bar to httpbin.bar: 200\ncurl.legacy to httpbin.foo: 200\ncurl.legacy to httpbin.bar: 200\n';
    await eventuallyEqual('every curl reaches every httpbin', loop, all200);
    assert.equal((await sh('mizzen get peerauthentication --all-namespaces')).stderr, 'No resources found\n');
    await ok(`mizzen apply -n foo -f - <<EOF
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: "default"
spec:
  mtls:
    mode: STRICT
EOF`);
    await eventuallyEqual('legacy is refused by foo only', loop, all200.replace('curl.legacy to httpbin.foo: 200', 'curl.legacy to httpbin.foo: 000'));
    await ok(`mizzen apply -n istio-system -f - <<EOF
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: "default"
spec:
  mtls:
    mode: STRICT
EOF`);
    await eventuallyEqual('legacy is refused everywhere', loop, all200.replace(/legacy to httpbin.(foo|bar): 200/g, 'legacy to httpbin.$1: 000'));
    assert.match(await ok('mizzen get pa -A'), /^NAMESPACE\s+NAME\s+MODE\s+AGE\nfoo\s+default\s+STRICT\s.*\nistio-system\s+default\s+STRICT\s/s);
    await ok('mizzen delete peerauthentication -n foo default');
    await ok('mizzen delete peerauthentication -n istio-system default');
    await eventuallyEqual('legacy reaches both again', loop, all200);
    assert.match(await ok('mizzen delete ns foo bar legacy'), /^namespace "foo" deleted\nnamespace "bar" deleted\nnamespace "legacy" deleted\n$/);
  });

  it('mizzen diff on Istio samples shows exactly the route configuration that changes, on the sidecars only', async (t) => {
    t.after(() => sh('mizzen delete --ignore-not-found -f samples/bookinfo/networking/virtual-service-all-v1.yaml'));
    await ok('mizzen apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
    const r = await sh('mizzen diff -f samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml -o json');
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { objects: { object: string; change: string }[]; proxies: { proxy: string; changes: { type: string; name: string; change: string }[] }[] };
    assert.deepEqual(out.objects.map((o) => [o.object, o.change]), [['VirtualService default/reviews', 'configured']]);
    const changed = out.proxies.filter((p) => p.changes.length > 0);
    assert.equal(changed.length, 6, 'the six Bookinfo sidecars');
    // reviews' route config (9080), and port 80's as istiod builds it: a VirtualService host with no
    // service on port 80 gets a virtual host there (istiod's fallback; port 80 exists through the
    // ingress gateway's Service)
    for (const p of changed) assert.deepEqual(p.changes.map((c) => `${c.type} ${c.name} ${c.change}`), ['routes 80 modified', 'routes 9080 modified'], p.proxy);
    assert.ok(out.proxies.some((p) => p.proxy.startsWith('istio-ingressgateway-') && p.changes.length === 0), 'the gateway has no route for reviews');
    const dry = await sh('mizzen apply --dry-run=server -f samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^virtualservice\.networking\.istio\.io\/reviews configured \(server dry run\)$/m);
    assert.doesNotMatch(await ok('mizzen get vs reviews -o yaml'), /jason/, 'nothing was applied');
    assert.equal((await sh('mizzen diff -f samples/bookinfo/networking/virtual-service-all-v1.yaml')).code, 0, 'no change, exit 0');
    await ok('mizzen delete -f samples/bookinfo/networking/virtual-service-all-v1.yaml');
  });

  it('kubectl habits: label, rollout restart under load without a failed request, port-forward, proxy-config secret', async () => {
    assert.match(await ok('mizzen label namespace default istio-injection=enabled --overwrite'), /namespace\/default (not )?labeled/);
    const failures: string[] = [];
    let requests = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const p = await page().catch((err: Error) => ({ status: 0, html: err.message, ms: 0 }));
        requests++;
        // the failure as the page says it (which call failed) and how long the page took (Bookinfo's calls time out at 3 s)
        if (p.status !== 200 || p.html.includes('currently unavailable')) failures.push(`${p.status} after ${p.ms} ms: ${/[^<>]*currently unavailable[^<>]*/.exec(p.html)?.[0] ?? p.html.slice(0, 80)}`);
      }
    })();
    try {
      await ok('mizzen rollout restart deployment/reviews-v1 deployment/details-v1');
      await ok('mizzen rollout status deployment/reviews-v1 --timeout 180s');
      await ok('mizzen rollout status deployment/details-v1 --timeout 180s');
      await waitFor('old pods gone', async () => !/Terminating/.test(await ok('mizzen get pods')), 60_000);
    } finally {
      stop = true;
      await load;
    }
    assert.ok(requests > 10, `requests during the rollout: ${requests}`);
    assert.deepEqual(failures, [], `no request failed during the rollout (${requests} made)`);
    const secret = await ok('mizzen proxy-config secret deploy/productpage-v1');
    assert.match(secret, /^RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE\n/);
    assert.match(secret, /\ndefault\s+Cert Chain\s+ACTIVE\s+true\s+[0-9a-f]+\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d{4}-/);
    assert.match(secret, /\nROOTCA\s+CA\s+ACTIVE\s+true\s+[0-9a-f]+\s/);
    const pf = spawn('bash', ['-c', 'exec mizzen port-forward svc/productpage :9080'], { cwd: dir, env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    pf.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const port = (await waitFor('forwarding', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 9080/.exec(out)))[1];
      assert.equal((await fetch(`http://127.0.0.1:${port}/productpage`)).status, 200);
    } finally {
      pf.kill('SIGINT');
    }
  });
});
