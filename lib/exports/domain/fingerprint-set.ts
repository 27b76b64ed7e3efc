/**
 * A set of 64-bit content fingerprints, each remembering a number (the dataset line it was first
 * seen on), in flat typed arrays: 12 bytes a slot, at most half the slots used, so a million
 * fingerprints cost 24–48 MB rather than the hundreds a `Map` of strings would. Two different
 * contents share a 64-bit fingerprint with a probability of about n²/2⁶⁵ (3·10⁻⁸ at a million).
 */
export class FingerprintSet {
  private keys: Uint32Array;
  private values: Uint32Array;
  private used = 0;

  constructor(initialSlots = 1 << 14) {
    this.keys = new Uint32Array(initialSlots * 2);
    this.values = new Uint32Array(initialSlots);
  }

  get size(): number {
    return this.used;
  }

  /** The value stored for `fingerprint` (8 bytes or more; the first 8 are used), or `undefined`. */
  get(fingerprint: Uint8Array): number | undefined {
    const [high, low] = words(fingerprint);
    const slot = this.find(high, low);
    return this.occupied(slot) ? this.values[slot] : undefined;
  }

  /** Stores `value` for `fingerprint` unless it is already there; returns whether it was added. */
  add(fingerprint: Uint8Array, value: number): boolean {
    const [high, low] = words(fingerprint);
    const slot = this.find(high, low);
    if (this.occupied(slot)) return false;
    this.keys[slot * 2] = high;
    this.keys[slot * 2 + 1] = low;
    this.values[slot] = value;
    this.used += 1;
    if (this.used * 2 > this.values.length) this.grow();
    return true;
  }

  /** The table as it lies in memory, for an export's checkpoint (views, not copies). */
  save(): { keys: Uint32Array; values: Uint32Array; used: number } {
    return { keys: this.keys, values: this.values, used: this.used };
  }

  /** A set holding exactly what `save` returned. */
  static restore(saved: { keys: Uint32Array; values: Uint32Array; used: number }): FingerprintSet {
    if (saved.keys.length !== saved.values.length * 2) throw new Error("a fingerprint table out of shape");
    const set = new FingerprintSet(1);
    set.keys = saved.keys;
    set.values = saved.values;
    set.used = saved.used;
    return set;
  }

  private occupied(slot: number): boolean {
    return this.keys[slot * 2] !== 0 || this.keys[slot * 2 + 1] !== 0;
  }

  /** Linear probing from the fingerprint's home slot to it or to the first empty slot. */
  private find(high: number, low: number): number {
    const mask = this.values.length - 1;
    let slot = (low ^ Math.imul(high, 0x9e3779b1)) & mask;
    for (;;) {
      const h = this.keys[slot * 2];
      const l = this.keys[slot * 2 + 1];
      if ((h === 0 && l === 0) || (h === high && l === low)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.values = new Uint32Array(values.length * 2);
    for (let slot = 0; slot < values.length; slot++) {
      const high = keys[slot * 2] as number;
      const low = keys[slot * 2 + 1] as number;
      if (high === 0 && low === 0) continue;
      const target = this.find(high, low);
      this.keys[target * 2] = high;
      this.keys[target * 2 + 1] = low;
      this.values[target] = values[slot] as number;
    }
  }
}

/** The first 8 bytes as two words; all-zero (the empty-slot marker) moves to 1. */
function words(fingerprint: Uint8Array): [number, number] {
  if (fingerprint.length < 8) throw new Error("a fingerprint has at least 8 bytes");
  const view = new DataView(fingerprint.buffer, fingerprint.byteOffset, 8);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  return high === 0 && low === 0 ? [0, 1] : [high, low];
}
