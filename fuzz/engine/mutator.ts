import type { Prng } from './prng.ts';

const INTERESTING_BYTES = [0, 1, 9, 10, 13, 32, 34, 37, 44, 46, 47, 48, 57, 58, 59, 61, 63, 92, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_NUMBERS = ['0', '-1', '1', '00', '65535', '65536', '2147483648', '4294967296', '9007199254740993', '18446744073709551616', '1e400', 'NaN', 'ffffffffffffff', '0x10', ' 1', '1 '];

/**
 * libFuzzer-style havoc: a stack of 1-8 byte-level mutations per input (bit flips, interesting
 * bytes, inserts, deletes, block copies, numbers in ASCII, dictionary tokens, crossover with
 * another corpus entry), all drawn from a seeded PRNG so that a run is reproducible.
 */
export class Mutator {
  private readonly rng: Prng;
  private readonly dictionary: readonly Buffer[];
  readonly maxLength: number;

  constructor(rng: Prng, dictionary: readonly (string | Buffer)[], maxLength: number) {
    this.rng = rng;
    this.dictionary = dictionary.map((d) => (typeof d === 'string' ? Buffer.from(d, 'latin1') : d));
    this.maxLength = maxLength;
  }

  mutate(input: Buffer, other: () => Buffer): Buffer {
    let b: Buffer = Buffer.from(input);
    const n = 1 + this.rng.below(this.rng.chance(0.5) ? 2 : 8);
    for (let i = 0; i < n; i++) b = this.once(b, other);
    return b.length > this.maxLength ? b.subarray(0, this.maxLength) : b;
  }

  private once(b: Buffer, other: () => Buffer): Buffer {
    const r = this.rng;
    const at = (len = b.length): number => r.below(len + 1);
    switch (r.below(12)) {
      case 0: { // flip a bit
        if (b.length === 0) return this.insert(b, at(), Buffer.from([r.below(256)]));
        const i = r.below(b.length);
        b[i] ^= 1 << r.below(8);
        return b;
      }
      case 1: { // an interesting byte
        if (b.length === 0) return Buffer.from([r.pick(INTERESTING_BYTES)]);
        b[r.below(b.length)] = r.pick(INTERESTING_BYTES);
        return b;
      }
      case 2: // random bytes inserted
        return this.insert(b, at(), Buffer.from(Array.from({ length: 1 + r.below(8) }, () => r.below(256))));
      case 3: { // delete a range
        if (b.length === 0) return b;
        const s = r.below(b.length);
        const len = 1 + r.below(Math.min(32, b.length - s));
        return Buffer.concat([b.subarray(0, s), b.subarray(s + len)]);
      }
      case 4: { // duplicate a range (repetition finds limits and loops)
        if (b.length === 0) return b;
        const s = r.below(b.length);
        const len = 1 + r.below(Math.min(64, b.length - s));
        const times = 1 + r.below(r.chance(0.2) ? 200 : 4);
        const piece = b.subarray(s, s + len);
        return this.insert(b, at(), Buffer.concat(Array.from({ length: times }, () => piece)));
      }
      case 5: { // overwrite with a copy of another range
        if (b.length < 2) return b;
        const s = r.below(b.length);
        const len = 1 + r.below(Math.min(32, b.length - s));
        const d = r.below(b.length);
        b.subarray(s, s + len).copy(b, d);
        return b;
      }
      case 6: // dictionary token inserted
      case 7: // dictionary token overwriting
        if (this.dictionary.length === 0) return b;
        {
          const tok = r.pick(this.dictionary);
          const p = at();
          return r.below(2) === 0 ? this.insert(b, p, tok) : Buffer.concat([b.subarray(0, p), tok, b.subarray(Math.min(b.length, p + tok.length))]);
        }
      case 8: { // an ASCII number replaced by an interesting one
        const text = b.toString('latin1');
        const nums = [...text.matchAll(/[0-9a-fA-F]+/g)];
        if (nums.length === 0) return this.insert(b, at(), Buffer.from(r.pick(INTERESTING_NUMBERS)));
        const m = r.pick(nums);
        return Buffer.concat([b.subarray(0, m.index), Buffer.from(r.pick(INTERESTING_NUMBERS)), b.subarray(m.index + m[0].length)]);
      }
      case 9: { // crossover: splice in a piece of another corpus entry
        const o = other();
        if (o.length === 0) return b;
        const s = r.below(o.length);
        const len = 1 + r.below(o.length - s);
        return this.insert(b, at(), o.subarray(s, s + len));
      }
      case 10: { // truncate
        if (b.length === 0) return b;
        return b.subarray(0, r.below(b.length));
      }
      default: { // arithmetic on a byte
        if (b.length === 0) return b;
        const i = r.below(b.length);
        b[i] = (b[i] + (r.below(2) === 0 ? 1 : 255) * (1 + r.below(16))) & 0xff;
        return b;
      }
    }
  }

  private insert(b: Buffer, at: number, piece: Buffer): Buffer {
    return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
  }
}
