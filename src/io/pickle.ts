// A Python pickle writer (protocol 2) for exactly what goal-snn emits: floats, lists and
// tuples of them. Python's standard library loads it with pickle.load, no numpy needed.

/** A Python tuple (JS arrays become lists). */
export class PyTuple {
  constructor(readonly items: PickleValue[]) {}
}
export type PickleValue = number | PickleValue[] | PyTuple;

const PROTO = 0x80, STOP = 0x2e, BINFLOAT = 0x47, EMPTY_LIST = 0x5d, MARK = 0x28, APPENDS = 0x65;
const TUPLE = 0x74, EMPTY_TUPLE = 0x29, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87;
/** Items per APPENDS, as CPython batches them. */
const BATCH = 1000;

/** The pickle's length in bytes: the encoder fills one buffer (10⁷ floats are 90 MB, not 10⁷ buffers). */
function encodedLength(v: PickleValue): number {
  if (typeof v === 'number') return 9;
  if (Array.isArray(v)) {
    let n = 1 + 2 * Math.ceil(v.length / BATCH); // EMPTY_LIST, then MARK … APPENDS per batch
    for (const x of v) n += encodedLength(x);
    return n;
  }
  if (v instanceof PyTuple) {
    let n = v.items.length === 0 ? 1 : v.items.length > 3 ? 2 : 1;
    for (const x of v.items) n += encodedLength(x);
    return n;
  }
  throw new TypeError(`cannot pickle ${typeof v}`);
}

/** float('nan') as CPython packs it (struct.pack('>d', float('nan'))). */
const CANONICAL_NAN = '7ff8000000000000';

export function encodePickle(value: PickleValue): Buffer {
  const out = Buffer.alloc(2 + encodedLength(value) + 1);
  let at = 0;
  const byte = (b: number): void => {
    out[at++] = b;
  };
  const emit = (v: PickleValue): void => {
    if (typeof v === 'number') {
      byte(BINFLOAT);
      // Every Python float, ±inf included; a NaN as Python writes float('nan'), whatever its
      // sign and payload (which arithmetic leaves to the order of operands), so that a stats
      // file's bytes depend on the numbers alone.
      if (Number.isNaN(v)) at += out.write(CANONICAL_NAN, at, 'hex');
      else at = out.writeDoubleBE(v, at);
    } else if (Array.isArray(v)) {
      byte(EMPTY_LIST);
      for (let k = 0; k < v.length; k += BATCH) {
        byte(MARK);
        for (let j = k; j < Math.min(k + BATCH, v.length); j++) emit(v[j]);
        byte(APPENDS);
      }
    } else {
      const items = (v as PyTuple).items; // encodedLength refused anything else
      const n = items.length;
      if (n === 0) {
        byte(EMPTY_TUPLE);
        return;
      }
      if (n > 3) byte(MARK);
      items.forEach(emit);
      byte(n === 1 ? TUPLE1 : n === 2 ? TUPLE2 : n === 3 ? TUPLE3 : TUPLE);
    }
  };
  byte(PROTO);
  byte(2);
  emit(value);
  byte(STOP);
  return out;
}

/** The stats file of SPEC.md: (mse_out, [mse_rec…], [dz…]). */
export function statsPickle(mseOut: number, mseRec: readonly number[], dz: readonly number[]): Buffer {
  return encodePickle(new PyTuple([mseOut, mseRec as number[], dz as number[]]));
}

/** statsPickle's length for `epochs` recurrent epochs, without building it (a savepath's check). */
export function statsPickleBytes(epochs: number): number {
  const list = 1 + 2 * Math.ceil(epochs / BATCH) + 9 * epochs;
  return 2 + (9 + 2 * list + 1) + 1; // PROTO 2, the tuple (mse_out, two lists, TUPLE3), STOP
}
