import { parseCertificationRequest } from '../../src/lib/certification-request.ts';
import { toPem } from '../../src/lib/pem.ts';
import { invariant, type FuzzTarget } from '../engine/fuzz-target.ts';

/**
 * The CA's PKCS#10 parser (what `CreateCertificate` receives from any workload): DER as sent,
 * and the same bytes as PEM. Invariants: it never throws (it promises errors as values), and an
 * accepted request has a public key of the type its signature algorithm names.
 */
export const csr: FuzzTarget = {
  name: 'csr',
  description: 'PKCS#10 CSR parser of the CA (DER and PEM), signature check included',
  dictionary: [Buffer.from([0x30, 0x82]), Buffer.from([0x30, 0x81]), Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]), Buffer.from([0x03, 0x00]), Buffer.from([0xa0, 0x00]), Buffer.from([0x02, 0x01, 0x00]), Buffer.from([0x05, 0x00]), Buffer.from([0x80]), Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff])],
  maxLength: 2048,
  watch: ['/src/lib/certification-request', '/src/lib/der', '/src/lib/pem', '/src/lib/signature-algorithm'],
  run(data) {
    for (const input of [data, toPem('CERTIFICATE REQUEST', data)]) {
      const r = parseCertificationRequest(input);
      if (r.ok) {
        invariant(r.request.spki.length > 0 && r.request.subject.length > 0, 'accepted request without key or subject');
        invariant(r.request.keyType === r.request.publicKey.asymmetricKeyType, `key type ${r.request.keyType} vs ${r.request.publicKey.asymmetricKeyType}`);
      } else invariant(typeof r.reason === 'string' && r.reason.length > 0, 'refusal without a reason');
    }
  },
};
