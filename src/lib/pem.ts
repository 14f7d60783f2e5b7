/** PEM armour: split a bundle into blocks, and wrap DER back into PEM. */

export interface PemBlock {
  label: string;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order (text between blocks is ignored). */
export function splitPem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    out.push({ label: m[1], der: Buffer.from(m[2].replace(/\s+/g, ''), 'base64') });
  }
  return out;
}

/** Wrap DER in PEM armour with 64-column base64 lines and a trailing newline. */
export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Split a bundle of certificates into one normalised PEM string per certificate. */
export function splitCertificatePems(text: string): string[] {
  return splitPem(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => toPem('CERTIFICATE', b.der));
}
