// Loads the addon built by `npm install` (cmake-js) and nothing else: src/ talks to native
// code only through this module.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Binding from '../binding';
import { asGoalError, GoalError } from './errors';

/** The package root: the nearest folder above this file with our package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'goal-snn') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new GoalError('GOAL_NO_ADDON', 'cannot find the goal-snn package root');
    dir = up;
  }
}

let cached: typeof Binding | undefined;

export function addon(): typeof Binding {
  if (cached) return cached;
  const file = path.join(packageRoot(), 'build', 'Release', 'goal_snn.node');
  if (!fs.existsSync(file)) {
    throw new GoalError('GOAL_NO_ADDON', `the native addon is not built (${file} is missing): run npm install in a clone of goal-snn, or npm rebuild goal-snn where it is a dependency (after npm install-scripts approve goal-snn, where npm skipped its install script)`);
  }
  let raw: typeof Binding;
  try {
    raw = require(file) as typeof Binding;
  } catch (err) {
    // A file the loader refuses: corrupt, or built for another machine, Node or C library.
    const why = String((err as Error | null)?.message ?? err).split('\n')[0].replace(`${file}: `, '');
    throw new GoalError('GOAL_NO_ADDON', `the native addon ${file} cannot be loaded (${why}): rebuild it, with npm run build:native in a clone of goal-snn, or npm rebuild goal-snn where it is a dependency`);
  }
  cached = withSettings(raw);
  return cached;
}

/** GOAL_CPU_ISA and GOAL_CUDA_SPIN as process.env holds them now (read under Node's lock). */
function settings(): Binding.NativeSettings {
  return { GOAL_CPU_ISA: process.env.GOAL_CPU_ISA ?? '', GOAL_CUDA_SPIN: process.env.GOAL_CUDA_SPIN ?? '' };
}

/**
 * The addon with the environment's settings passed at each new batch and each info(), when
 * not given: read here at that moment, as the engines once read them (tests switch
 * GOAL_CPU_ISA between runs), never by getenv in C++. Its batches are stopped as the process
 * (or this worker, by process.exit() or its end) exits: the exit would otherwise wait for a
 * native call to end, on the CPU an epoch of seconds at large N. (Worker.terminate() emits no
 * 'exit' in the worker: it waits for the call.)
 */
function withSettings(raw: typeof Binding): typeof Binding {
  const live = new Set<WeakRef<Binding.Batch>>();
  const forget = new FinalizationRegistry<WeakRef<Binding.Batch>>((ref) => live.delete(ref));
  // The addon's own stop (a no-op once disposed), whatever a subclass made of stop().
  process.once('exit', () => live.forEach((ref) => {
    const batch = ref.deref();
    if (batch) raw.Batch.prototype.stop.call(batch);
  }));
  class Batch extends raw.Batch {
    readonly #ref: WeakRef<Binding.Batch>;
    constructor(config: Binding.BatchConfig, given?: Binding.NativeSettings) {
      super(config, given ?? settings());
      this.#ref = new WeakRef(this);
      live.add(this.#ref);
      forget.register(this, this.#ref, this.#ref);
    }

    override dispose(): void {
      super.dispose();
      live.delete(this.#ref);
      forget.unregister(this.#ref);
    }
  }
  return { Batch, info: (given?: Binding.NativeSettings) => raw.info(given ?? settings()), bytesNeeded: raw.bytesNeeded };
}

/** What the addon was built with and finds here; its errors (a GOAL_CPU_ISA naming no variant) ours. */
export function nativeInfo(): Binding.NativeInfo {
  try {
    return addon().info();
  } catch (err) {
    throw asGoalError(err);
  }
}
