/**
 * A DiscoveryResponse's envelope read from the message's parts as they arrive, without
 * assembling the message: version_info=1, resources=2 (counted, skipped), type_url=4, nonce=5;
 * every other field skipped by wire type. The simulator stands in for N Envoys on the same two
 * cores as discovery; reading only the envelope (and never copying a 364 KB route configuration
 * per proxy) keeps its CPU for receiving the bytes, which is what the benchmark is about.
 */
export interface ResponseHead {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: number;
  /** Size of the message. */
  bytes: number;
  /**
   * The resources' Any.value bytes, only when the parser was asked to capture the resources'
   * type (as parts that refer to the received buffers: nothing is copied but the Any headers).
   */
  captured?: Buffer[][];
}

/** Any { type_url = 1 } of a resource needs at most this many bytes to be read. */
const ANY_HEAD_MAX = 256;

type State = 'key' | 'varint' | 'len' | 'skip' | 'capture' | 'peek' | 'resource';

export class ResponseHeadParser {
  private state: State = 'key';
  private acc = 0;
  private mul = 1;
  private field = 0;
  private remaining = 0;
  private captured: Buffer[] = [];
  private head = emptyHead();
  private readonly captureTypes: ReadonlySet<string>;
  /** The first bytes of the current resource, until its Any.type_url can be read. */
  private peeked: Buffer[] = [];
  private peekedBytes = 0;
  private peekWant = 0;
  /** The current resource's parts, when capturing. */
  private resourceParts: Buffer[] | undefined;

  /** `captureTypes`: resource type URLs whose bytes to hand back (e.g. clusters and listeners, for their names). */
  constructor(captureTypes: ReadonlySet<string> = new Set()) {
    this.captureTypes = captureTypes;
  }

  /** Feed the next part of the current message; returns the envelope on the message's last part. */
  push(part: Buffer, last: boolean): ResponseHead | undefined {
    this.head.bytes += part.length;
    let pos = 0;
    while (pos < part.length) {
      switch (this.state) {
        case 'skip': {
          const n = Math.min(this.remaining, part.length - pos);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'key';
          break;
        }
        case 'peek': {
          const n = Math.min(this.peekWant - this.peekedBytes, part.length - pos);
          this.peeked.push(part.subarray(pos, pos + n));
          this.peekedBytes += n;
          pos += n;
          this.remaining -= n;
          if (this.peekedBytes === this.peekWant) this.afterPeek();
          break;
        }
        case 'resource': {
          const n = Math.min(this.remaining, part.length - pos);
          this.resourceParts!.push(part.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endResource();
          break;
        }
        case 'capture': {
          const n = Math.min(this.remaining, part.length - pos);
          this.captured.push(Buffer.from(part.subarray(pos, pos + n)));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishString();
          break;
        }
        default: {
          const byte = part[pos++]!;
          this.acc += (byte & 0x7f) * this.mul;
          this.mul *= 128;
          if (byte >= 0x80) break;
          const value = this.acc;
          this.acc = 0;
          this.mul = 1;
          this.onVarint(value);
        }
      }
    }
    if (!last) return undefined;
    if (this.state !== 'key' || this.mul !== 1) throw new Error(`DiscoveryResponse ended inside a field (${this.state})`);
    const out = this.head;
    this.head = emptyHead();
    return out;
  }

  private onVarint(value: number): void {
    if (this.state === 'varint') {
      this.state = 'key';
      return;
    }
    if (this.state === 'len') {
      this.remaining = value;
      if (this.field === 1 || this.field === 4 || this.field === 5) {
        this.state = 'capture';
        if (value === 0) this.finishString();
      } else {
        if (this.field === 2) {
          this.head.resources++;
          if (this.captureTypes.size > 0 && value > 0) {
            this.peeked = [];
            this.peekedBytes = 0;
            this.peekWant = Math.min(value, ANY_HEAD_MAX);
            this.state = 'peek';
            return;
          }
        }
        this.state = value === 0 ? 'key' : 'skip';
      }
      return;
    }
    // a key
    this.field = Math.floor(value / 8);
    const wire = value & 7;
    if (wire === 0) this.state = 'varint';
    else if (wire === 2) this.state = 'len';
    else if (wire === 1 || wire === 5) {
      this.remaining = wire === 1 ? 8 : 4;
      this.state = 'skip';
    } else throw new Error(`unexpected wire type ${wire} in DiscoveryResponse`);
  }

  /** The resource's first bytes are in: read Any.type_url and capture or skip the rest. */
  private afterPeek(): void {
    const head = Buffer.concat(this.peeked);
    this.peeked = [];
    const typeUrl = anyTypeUrl(head);
    if (typeUrl === undefined || !this.captureTypes.has(typeUrl)) {
      this.state = this.remaining === 0 ? 'key' : 'skip';
      return;
    }
    this.resourceParts = [head];
    if (this.remaining === 0) this.endResource();
    else this.state = 'resource';
  }

  private endResource(): void {
    const any = this.resourceParts!;
    this.resourceParts = undefined;
    (this.head.captured ??= []).push(anyValue(any));
    this.state = 'key';
  }

  private finishString(): void {
    const s = Buffer.concat(this.captured).toString('utf8');
    this.captured = [];
    if (this.field === 1) this.head.versionInfo = s;
    else if (this.field === 4) this.head.typeUrl = s;
    else this.head.nonce = s;
    this.state = 'key';
  }
}

function emptyHead(): ResponseHead {
  return { versionInfo: '', typeUrl: '', nonce: '', resources: 0, bytes: 0 };
}

function readVarint(b: Buffer, pos: number): [number, number] | undefined {
  let value = 0;
  let mul = 1;
  while (pos < b.length) {
    const byte = b[pos++]!;
    value += (byte & 0x7f) * mul;
    mul *= 128;
    if (byte < 0x80) return [value, pos];
  }
  return undefined;
}

/** Any.type_url (field 1) when the Any starts with it, as every encoder here writes it. */
function anyTypeUrl(head: Buffer): string | undefined {
  if (head[0] !== 0x0a) return undefined;
  const len = readVarint(head, 1);
  if (!len || len[1] + len[0] > head.length) return undefined;
  return head.toString('utf8', len[1], len[1] + len[0]);
}

/** The Any's value (field 2) as parts of the captured resource: type_url first, then value. */
function anyValue(parts: Buffer[]): Buffer[] {
  const first = parts[0]!;
  const url = readVarint(first, 1)!;
  let pos = url[1] + url[0];
  if (first[pos] !== 0x12) throw new Error('Any without a value after its type_url');
  const len = readVarint(first, pos + 1);
  if (!len) throw new Error('Any value length past the peeked bytes');
  pos = len[1];
  return [first.subarray(pos), ...parts.slice(1)];
}
