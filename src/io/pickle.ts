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

export function encodePickle(value: PickleValue): Buffer {
  const chunks: Buffer[] = [Buffer.from([PROTO, 2])];
  const byte = (b: number): void => {
    chunks.push(Buffer.from([b]));
  };
  const emit = (v: PickleValue): void => {
    if (typeof v === 'number') {
      const b = Buffer.alloc(9);
      b[0] = BINFLOAT;
      b.writeDoubleBE(v, 1); // every Python float, NaN and ±inf included
      chunks.push(b);
    } else if (Array.isArray(v)) {
      byte(EMPTY_LIST);
      for (let k = 0; k < v.length; k += BATCH) {
        byte(MARK);
        v.slice(k, k + BATCH).forEach(emit);
        byte(APPENDS);
      }
    } else if (v instanceof PyTuple) {
      const n = v.items.length;
      if (n === 0) {
        byte(EMPTY_TUPLE);
        return;
      }
      if (n > 3) byte(MARK);
      v.items.forEach(emit);
      byte(n === 1 ? TUPLE1 : n === 2 ? TUPLE2 : n === 3 ? TUPLE3 : TUPLE);
    } else {
      throw new TypeError(`cannot pickle ${typeof v}`);
    }
  };
  emit(value);
  byte(STOP);
  return Buffer.concat(chunks);
}

/** The stats file of SPEC.md: (mse_out, [mse_rec…], [dz…]). */
export function statsPickle(mseOut: number, mseRec: readonly number[], dz: readonly number[]): Buffer {
  return encodePickle(new PyTuple([mseOut, [...mseRec], [...dz]]));
}
