import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync, unlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadOrCreateTokenKey, mintServiceAccountToken } from '../../src/control/ca/service-account-token.ts';
import { createCertificateAuthority } from '../../src/control/ca/certificate-authority.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { MizzenError } from '../../src/lib/errors.ts';
import { Registry } from 'prom-client';
import { certificateSans } from '../../src/lib/certificate-info.ts';
import { createCertificate, opensslCsr, opensslVerify, startCa, tempDir } from './ca-fixture.ts';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** Istio's plug-in layout made with openssl: root → intermediate (ca-cert.pem), cert-chain.pem = intermediate + root. */
function makePlugInCa(dir: string): void {
  writeFileSync(join(dir, 'root.cnf'), '[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n');
  writeFileSync(join(dir, 'int.cnf'), '[v3]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  openssl(dir, ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-days', '3650', '-subj', '/O=Istio/CN=Root CA', '-extensions', 'v3', '-config', 'root.cnf']);
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Istio/CN=Intermediate CA/L=cluster1']);
  openssl(dir, ['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-out', 'ca-cert.pem', '-days', '730', '-extfile', 'int.cnf', '-extensions', 'v3']);
  writeFileSync(join(dir, 'cert-chain.pem'), readFileSync(join(dir, 'ca-cert.pem'), 'utf8') + readFileSync(join(dir, 'root-cert.pem'), 'utf8'));
  unlinkSync(join(dir, 'root-key.pem')); // the mesh never holds the offline root key
}

describe('SigningAuthority', () => {
  it('generates a 10-year ECDSA P-256 root on first start and reuses it after a restart', async () => {
    const dir = tempDir();
    try {
      const first = await startCa(dir.path);
      const root1 = first.ca.rootCertPem();
      const token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'ns1', serviceAccount: 'sa1' });
      const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/ns1/sa/sa1');
      const before = await createCertificate({ address: first.plainAddress, csr, token });
      await first.close();
      const cert = new X509Certificate(root1);
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(cert.ca);
      const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365 * 86400_000);
      assert.ok(years >= 9.99 && years <= 10.01, `root lifetime ${years} years`);
      assert.match(cert.subject, /O=cluster\.local/);

      const second = await startCa(dir.path);
      try {
        assert.equal(second.ca.rootCertPem(), root1, 'same root after restart');
        // The token key persists too: a token minted before the restart still works.
        const after = await createCertificate({ address: second.plainAddress, csr, token });
        assert.equal(after.chain?.at(-1), before.chain?.at(-1));
        assert.ok(opensslVerify(dir.path, after.chain!).ok);
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('uses a plug-in CA (root → intermediate) and returns leaf, intermediate and root', async () => {
    const dir = tempDir();
    try {
      makePlugInCa(dir.path);
      const fx = await startCa(dir.path);
      try {
        assert.equal(fx.ca.authority.kind, 'plug-in');
        assert.equal(fx.ca.rootCertPem().trim(), readFileSync(join(dir.path, 'root-cert.pem'), 'utf8').trim());
        const token = await mintServiceAccountToken({ key: loadOrCreateTokenKey(dir.path).privateKey, namespace: 'prod', serviceAccount: 'api' });
        const { csr } = opensslCsr(dir.path, 'spiffe://cluster.local/ns/other/sa/other');
        const { chain, error } = await createCertificate({ address: fx.plainAddress, csr, token, validitySeconds: 3600 });
        assert.equal(error, undefined);
        assert.equal(chain!.length, 3, 'leaf, intermediate, root');
        assert.match(new X509Certificate(chain![1]).subject, /CN=Intermediate CA/);
        assert.match(new X509Certificate(chain![2]).subject, /CN=Root CA/);
        const v = opensslVerify(dir.path, chain!);
        assert.ok(v.ok, v.output);
        assert.deepEqual(certificateSans(new X509Certificate(chain![0])).uris, ['spiffe://cluster.local/ns/prod/sa/api']);
        // The TLS port (serving cert issued by the intermediate) works with only the root trusted.
        const tls = await createCertificate({ address: fx.tlsAddress, csr, token, tls: { rootCertPem: fx.ca.rootCertPem() } });
        assert.equal(tls.chain?.length, 3, String(tls.error?.details));
      } finally {
        await fx.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('reports an incomplete or mismatched plug-in CA directory clearly', () => {
    const dir = tempDir();
    try {
      makePlugInCa(dir.path);
      unlinkSync(join(dir.path, 'cert-chain.pem'));
      const start = () => createCertificateAuthority({ caDir: dir.path, clock: systemClock, log: silentLogger(), metrics: new Registry() });
      assert.throws(start, (e: unknown) => e instanceof MizzenError && e.code === 'CONFIG_INVALID' && /missing cert-chain\.pem/.test(e.message));
      // A chain whose certificates do not link.
      const other = tempDir();
      try {
        makePlugInCa(other.path);
        writeFileSync(join(dir.path, 'cert-chain.pem'), readFileSync(join(dir.path, 'ca-cert.pem'), 'utf8'));
        writeFileSync(join(dir.path, 'root-cert.pem'), readFileSync(join(other.path, 'root-cert.pem'), 'utf8'));
        assert.throws(start, (e: unknown) => e instanceof MizzenError && /is not signed by any root in root-cert\.pem/.test(e.message));
        writeFileSync(join(dir.path, 'ca-key.pem'), readFileSync(join(other.path, 'ca-key.pem'), 'utf8'));
        assert.throws(start, (e: unknown) => e instanceof MizzenError && /does not match/.test(e.message));
      } finally {
        other.remove();
      }
    } finally {
      dir.remove();
    }
  });
});
