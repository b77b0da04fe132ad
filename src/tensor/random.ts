import { describeValue } from '../validate.js';

/**
 * A seeded generator, so `randn({ seed })` gives the same numbers on every machine.
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128 bits of state, passes
 * PractRand, and only needs 32-bit integer arithmetic that JavaScript does exactly.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private counter: number;

  /** `caller` names the public function the seed was given to, for the error message. */
  constructor(seed: number, caller = 'Random') {
    if (!Number.isSafeInteger(seed)) {
      if (Number.isInteger(seed)) throw new Error(`${caller}: seed must be a safe integer (between -(2 ** 53 - 1) and 2 ** 53 - 1; every bit of it is used), got ${describeValue(seed)}`);
      throw new Error(`${caller}: seed must be an integer, got ${describeValue(seed)}`);
    }
    // splitmix32 spreads a small integer seed over the whole state.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      return finalize(s);
    };
    this.a = next();
    this.b = next();
    // Every bit of the seed counts: the bits above the low 32 go into c, so seeds 0 and 2 ** 32
    // differ (and -1, whose high word is all ones, differs from 2 ** 32 - 1). A seed in
    // [0, 2 ** 32) keeps the numbers it always gave, since the finalizer maps 0 to 0.
    this.c = (next() ^ finalize(Math.floor(seed / 2 ** 32) >>> 0)) >>> 0;
    this.counter = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.counter) >>> 0;
    this.counter = (this.counter + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Standard normal by Box-Muller; the second value of each pair is kept for the next call. */
  private spare: number | null = null;
  normal(): number {
    if (this.spare !== null) {
      const value = this.spare;
      this.spare = null;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}

/** splitmix32's finalizer: a bijection on 32-bit integers that maps 0 to 0. */
function finalize(value: number): number {
  let z = value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
