// What the library reads of its caller's objects: their own enumerable properties and the known
// names they have otherwise (inherited, hidden), each read once (what is checked is what is
// used), lists by index (no iterator of the caller's runs).
import t from 'tap';
import { defaults, resolveParams, sweep, train } from '../src/index';

/** `value` behind a getter that counts its reads and returns `later` after the first. */
function counted<T>(obj: object, key: string, value: T, later: unknown): { reads: number } {
  const seen = { reads: 0 };
  Object.defineProperty(obj, key, { enumerable: true, get: () => (seen.reads++ === 0 ? value : later) });
  return seen;
}

/** An array whose iterator never ends: only reads by index terminate. */
function endless<T extends unknown[]>(items: T): T {
  (items as unknown as Record<symbol, unknown>)[Symbol.iterator] = function* () {
    for (;;) yield items[0];
  };
  return items;
}

/** An array that says it holds 2³² − 1 items (a copy of it would exhaust the heap). */
const huge = <T extends unknown[]>(items: T): T => new Proxy(items, { get: (a, k) => (k === 'length' ? 2 ** 32 - 1 : Reflect.get(a, k)) });

const tiny = { nRec: 20, tSeq: 20, epochs: [1, 2] as [number, number] };

t.test('params: each value read once, the epochs by index', async (t) => {
  const params = { nRec: 20, tSeq: 20, epochs: endless<[number, number]>([1, 2]) };
  const tau = counted(params, 'tauO', 3, 'three');
  const { params: p } = resolveParams(params);
  t.equal(tau.reads, 1, 'tauO read once');
  t.equal(p.tauO, 3, 'and the value read is the one used');
  t.strictSame([...p.epochs], [1, 2], 'an epochs array with an endless iterator is read by index');
  t.throws(() => resolveParams({ nRec: 20, epochs: huge<[number, number]>([1, 2]) }), { code: 'GOAL_INVALID_PARAM', param: 'epochs', message: /… 4294967295 items\]\)$/ },
    'one claiming 2³² − 1 items is refused, not copied');
  const hidden = { nRec: 20 };
  Object.defineProperty(hidden, 'tauO', { value: 99, enumerable: false });
  t.equal(resolveParams(hidden).params.tauO, 99, 'a non-enumerable known key is given too, as a Web API reads its options');
  const unknown = { nRec: 20 };
  let unknownReads = 0;
  Object.defineProperty(unknown, 'tauQ', { enumerable: false, get: () => ++unknownReads });
  t.equal(resolveParams(unknown).params.nRec, 20, 'a non-enumerable unknown one is not refused');
  t.equal(unknownReads, 0, 'nor read');
});

t.test('train options: each read once', async (t) => {
  const options = { backend: 'cpu' as const };
  let calls = 0;
  const onEpoch = counted(options, 'onEpoch', () => void calls++, 5);
  const signal = counted(options, 'signal', new AbortController().signal, 'not a signal');
  const r = await train({ ...tiny, seed: 1 }, options);
  t.equal(r.aborted, false);
  t.match({ onEpoch: onEpoch.reads, signal: signal.reads }, { onEpoch: 1, signal: 1 }, 'onEpoch and signal read once');
  t.equal(calls, 3, 'and the onEpoch read called after every epoch');
  await t.rejects(train(tiny, { signal: Object.create(AbortSignal.prototype) }), { code: 'GOAL_INVALID_OPTION', message: /^options.signal must be an AbortSignal/ },
    'an object of AbortSignal\'s prototype that is none is refused up front');
});

t.test("train options of a class: its getters are read (once) and its methods called on it", async (t) => {
  // Its state in private fields: an own enumerable one would be an unknown option.
  class Progress {
    #epochs = 0;
    #signalReads = 0;
    readonly #controller = new AbortController();
    get signal() {
      this.#signalReads++;
      return this.#controller.signal;
    }
    onEpoch() {
      if (++this.#epochs === 2) this.#controller.abort();
    }
    get counts() {
      return { epochs: this.#epochs, signalReads: this.#signalReads };
    }
  }
  const progress = new Progress();
  const r = await train({ ...tiny, seed: 1 }, progress); // a TrainOptions as TypeScript has it
  t.equal(progress.counts.signalReads, 1, 'the signal getter read once');
  t.equal(progress.counts.epochs, 2, 'onEpoch called with the instance as this');
  t.equal(r.aborted, true, 'and the signal it gave stopped the run');
  const stopped = await train({ ...tiny, seed: 1 }, Object.create({ signal: AbortSignal.abort() }));
  t.equal(stopped.aborted, true, 'an inherited signal already aborted stops the run before its first epoch');
  t.equal(stopped.mseRec.length, 0);
});

t.test('sweep: the lists by index, the base and the shard read once', async (t) => {
  const base = { tSeq: 20, epochs: [1, 2] as [number, number] };
  const nRec = counted(base, 'nRec', 20, 30);
  const shard = { n: 1 };
  const k = counted(shard, 'k', 1, 0);
  const r = await sweep({ ranks: endless<'ltts'[]>(['ltts']), taus: endless([2, 3]), seeds: endless([1]), base, shard: shard as { k: number; n: number }, backend: 'cpu', onWarning: () => {} });
  t.equal(r.completed, 2, 'lists with endless iterators plan their points');
  t.match({ nRec: nRec.reads, k: k.reads }, { nRec: 1, k: 1 }, 'base.nRec and shard.k read once');
  t.ok(r.rows.every((row) => row.fixed?.n_rec === 20), 'every cell with the N read');
  const alone = await train({ ...tiny, seed: 1, tauO: 3 });
  t.equal(r.rows.find((row) => row.tau_o === 3)!.mse_final, alone.mseRec.at(-1), 'and trained with it');
  await t.rejects(sweep({ ranks: ['ltts'], taus: [2], seeds: huge([1]), base: tiny }), { code: 'GOAL_USAGE', message: /^sweep options.seeds holds 4294967295 values, more than/ },
    'a list claiming 2³² − 1 items is refused, not copied');
});
