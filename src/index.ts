// goal-snn: train recurrent spiking networks with GOAL (Capone, Muratore, Paolucci 2022).
export { GoalError } from './errors';
export type { GoalErrorCode } from './errors';
export { defaults, paramDocs, resolveParams, MAX_SIZE, MAX_RECURRENT_EPOCHS } from './params';
export type { Params, ResolvedParams, ParamDoc, ParamName, Dtype, FeedbackKind, Labeller } from './params';
export { Rng } from './rng';
export { buildTarget, buildClock, TARGET_FREQUENCIES, TARGET_SILENT_STEPS } from './tasks';
export type { Matrix } from './tasks';
export { train } from './train';
export type { TrainOptions, TrainResult, TrainParams, SeededParams } from './train';
export type { EpochInfo } from './run';
export { sweep, summarize, summaryTables, mergeRows, gridGap, readRows, convergenceEpoch, DEFAULT_CONV, MAX_THREADS, MAX_SWEEP_POINTS } from './sweep';
export type { SweepOptions, SweepOptionName, SweepPlan, SweepResult, SweepRow, SweepRank, SummaryCell } from './sweep';
export { replay, compareReplay, REPLAY_TOLERANCE } from './replay';
export type { Fixture, JsonFixture, ReplayOptions, ReplayResult, FieldCheck } from './replay';
export { BACKENDS } from './backend';
export type { Backend } from './backend';
export { info, version } from './info';
export type { Info } from './info';
