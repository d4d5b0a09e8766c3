// The contract of the native addon (build/Release/goal_snn.node). Internal: only src/native.ts
// loads it. Matrices are row-major Float64Arrays in SPEC.md's orientation; the engine converts
// them once to its dtype. Every failure is an Error with a `code`:
//   GOAL_INVALID (bad argument), GOAL_STATE (phase called out of order, or disposed),
//   GOAL_BUSY (a call on this batch is still running), GOAL_ENOMEM, GOAL_NO_CUDA,
//   GOAL_CUDA (a CUDA runtime failure), GOAL_INTERNAL.

export type Dtype = 'float32' | 'float64';
export type FeedbackKind = 'spk' | 'out';
export type NativeBackend = 'cpu' | 'cuda';

/** Sizes and constants of one network (SPEC.md symbols). */
export interface NetSizes {
  N: number;
  I: number;
  O: number;
  T: number;
  /** Feedback rank; 0 = LTTS (D = m·Identity). */
  R: number;
  feedback: FeedbackKind;
  dtype: Dtype;
  /** Time constants in units of dt. */
  tau_m: number;
  tau_s: number;
  tau_o: number;
  v_init: number;
  bias: number;
  reset: number;
  thr: number;
  rec_lr: number;
  out_lr: number;
}

/** One network: its sizes, constants, initial matrices and task. */
export interface NetConfig extends NetSizes {
  /** I×N */ W_ih: Float64Array;
  /** N×N */ W_hh: Float64Array;
  /** N×O */ W_ho: Float64Array;
  /** O×N */ W_trg: Float64Array;
  /** y*, T×O */ targ: Float64Array;
  /** x, (T−1)×I */ clock: Float64Array;
}

export type MatrixField = 'W_ih' | 'W_hh' | 'W_ho' | 'W_trg' | 'D' | 'B' | 'r_targ';
export type RasterField = 'Z_targ' | 'Z_last';

export interface BatchConfig {
  backend: NativeBackend;
  /** CPU only: threads that share the networks (default 1). */
  threads?: number;
  /** K ≥ 1 networks sharing N, I, O, T and dtype; each with its own rank, constants and matrices. */
  nets: NetConfig[];
}

/**
 * The environment variables the engines heed, as the caller read them (the addon's code never
 * calls getenv: in C++ that races with a change of process.env on another thread; the CUDA
 * runtime reads its own variables as it starts). Absent, the defaults. src/native.ts passes
 * process.env's.
 */
export interface NativeSettings {
  /** base, avx2 or avx512 forces that CPU variant (one the CPU lacks is GOAL_INVALID); '' the widest. */
  GOAL_CPU_ISA?: string;
  /** '1': a thread waiting for the GPU spins (the CUDA runtime's default) rather than sleeps. */
  GOAL_CUDA_SPIN?: string;
}

/**
 * K ≥ 1 networks trained in lockstep: one native call per phase for all of them (a lone network
 * is a batch of one). The asynchronous methods run on the libuv pool; a second call while one
 * runs throws GOAL_BUSY; an input array passed to one must not be modified until its promise
 * settles. Per-epoch outputs are network-major (k·epochs + epoch). A network computes the same
 * numbers alone or in any batch on the same backend.
 */
export declare class Batch {
  constructor(config: BatchConfig, settings?: NativeSettings);
  readonly size: number;
  /** The most epochs one readout() or recurrent() call takes: its outputs hold ≤ 2^26 values. */
  readonly maxEpochs: number;
  /** e.g. "cpu:avx2" or "cuda:0 NVIDIA H200". */
  readonly device: string;
  /** SPEC "Training" 1: Z*, r*. */
  targetRun(): Promise<void>;
  /** SPEC "Training" 2: `epochs` readout epochs; the mse of each, before its update (K×epochs). */
  readout(epochs: number): Promise<Float64Array>;
  /**
   * SPEC "Training" 3, from standard normals g: one array per network, N×N (spk) or N×R (out),
   * copied before the call returns (the caller may reuse or transfer them at once).
   */
  feedback(noise: Float64Array[]): Promise<void>;
  /** SPEC "Training" 4: `epochs` recurrent epochs (K×epochs each). */
  recurrent(epochs: number): Promise<{ mseRec: Float64Array; dz: Float64Array }>;
  /** Readout MSE of network k on r* with its current W_ho (no update). */
  readoutMse(k: number): number;
  read(k: number, name: MatrixField): Float64Array;
  read(k: number, name: RasterField): Uint8Array;
  /** Smallest |v' − thr| network k met so far. */
  minMargin(k: number): number;
  /**
   * Callable while a call runs: on the CPU every call (the target run, the feedback construction,
   * whose D product costs N²·R, readout and recurrent epochs) stops at its next check (between
   * steps, every 64 steps of a recurrent epoch, between epochs or rows of D) and rejects with
   * GOAL_ABORTED, as does any later one; the GPU's calls run to their end. A stopped batch is
   * only good for dispose(). src/native.ts stops every live batch on the 'exit' event of the
   * process (or of a worker, by its process.exit() or its end; not at Worker.terminate()), whose
   * exit would otherwise wait for the call to end.
   */
  stop(): void;
  /** Frees the memory now rather than at garbage collection. */
  dispose(): void;
}

export interface NativeInfo {
  /** device: how a result names it (cpu:avx512). */
  cpu: { isa: string; isas: string[]; threads: number; device: string };
  cuda: {
    compiled: boolean;
    available: boolean;
    reason?: string;
    devices?: number;
    name?: string;
    /** How a result names device 0 (cuda:0 NVIDIA H200). */
    device?: string;
    computeCapability?: string;
    multiprocessors?: number;
    memoryBytes?: number;
    runtimeVersion?: number;
    driverVersion?: number;
  };
}

export declare function info(settings?: NativeSettings): NativeInfo;
/** Bytes the engine allocates for a network of these sizes (checks the sizes first). */
export declare function bytesNeeded(sizes: NetSizes): number;
