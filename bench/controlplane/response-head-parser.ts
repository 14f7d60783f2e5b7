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
}

type State = 'key' | 'varint' | 'len' | 'skip' | 'capture';

export class ResponseHeadParser {
  private state: State = 'key';
  private acc = 0;
  private mul = 1;
  private field = 0;
  private remaining = 0;
  private captured: Buffer[] = [];
  private head = emptyHead();

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
        if (this.field === 2) this.head.resources++;
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
