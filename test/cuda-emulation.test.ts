// The CUDA kernels cannot run without a GPU, but their logic can: cuda_emu_check.cu compiles
// cuda_engine.cu and cuda_kernels.cuh against a host emulation of CUDA (cuda_emu.cuh: a thread
// per GPU thread, real barriers, shared memory of exactly the launch's size) and compares every
// phase with the CPU engine: the block path bit for bit, the grid path within its stated
// tolerance, batches against their networks alone. This runs it on every machine with g++ ≥ 11.
// GOAL_EMU_SANITIZE=thread (a missing barrier is a data race; ~25 min on 2 busy cores) or
// =address,undefined (an overrun of a launch's shared memory; ~3 min) builds it with that
// sanitizer, which fails the run on any report.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';

const root = path.join(__dirname, '..');
const gxx = spawnSync('g++', ['-dumpversion'], { encoding: 'utf8' });
const major = gxx.status === 0 ? parseInt(gxx.stdout, 10) : 0;
const skip = major >= 11 ? false : `g++ ≥ 11 (C++20 <barrier>) not found${major ? ` (g++ ${major})` : ''}`;

const sanitize = process.env.GOAL_EMU_SANITIZE ?? '';
const sanitizer = sanitize ? ['-g', `-fsanitize=${sanitize}`, '-fno-sanitize-recover=all'] : [];
// Four emulated runs take minutes on 2 cores (more on a loaded machine, and far more under a
// sanitizer): longer than the runner's per-file timeout (package.json) allows.
t.setTimeout(sanitize ? 3_600_000 : 900_000);
const name = `the CUDA engine under emulation equals the CPU engine${sanitize ? ` (-fsanitize=${sanitize})` : ''}`;

t.test(name, { skip, timeout: sanitize ? 3_600_000 : 900_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-emu-'));
  const flags = ['-std=c++20', '-O1', '-pthread', '-ffp-contract=off', '-fno-strict-aliasing', '-Inative/kernels', ...sanitizer];
  const run = (args: string[]) => spawnSync('g++', [...flags, ...args], { cwd: root, encoding: 'utf8' });
  const objects: string[] = [];
  for (const isa of ['base', 'avx2', 'avx512']) {
    const o = path.join(dir, `cpu_${isa}.o`);
    const r = run([`-DGOAL_ISA_NS=isa_${isa}`, '-c', 'native/kernels/cpu_kernels.cpp', '-o', o]);
    t.equal(r.status, 0, `cpu kernels (${isa}) compile ${r.stderr}`);
    objects.push(o);
  }
  const exe = path.join(dir, 'goal_emu_check');
  const b = run(['-DGOAL_CUDA_EMU', '-x', 'c++', 'native/kernels/cuda_emu_check.cu', '-x', 'none',
    'native/kernels/cpu_engine.cpp', 'native/kernels/cpu_batch.cpp', ...objects, '-o', exe]);
  t.equal(b.status, 0, `the emulation check compiles ${b.stderr}`);
  // What a failure shows: a sanitizer's own error and summary lines, else the last lines printed.
  const gist = (r: { stdout: string; stderr: string }, n: number) => {
    const lines = `${r.stdout}${r.stderr}`.trim().split('\n');
    const reports = lines.filter((l) => /^(==\d+==ERROR|WARNING|SUMMARY): \w+Sanitizer|runtime error:/.test(l));
    return (reports.length ? reports.slice(0, n) : lines.slice(-n)).join('\n');
  };
  const r = spawnSync(exe, { encoding: 'utf8', env: { ...process.env, GOAL_EMU_SMS: '2' } });
  t.equal(r.status, 0, `it passes:\n${gist(r, 6)}`);
  t.match(r.stdout, /all checks passed/);
  // A driver that refuses a cooperative launch the occupancy API allowed: planned again, same numbers.
  const refused = spawnSync(exe, { encoding: 'utf8', env: { ...process.env, GOAL_EMU_SMS: '2', GOAL_EMU_COOP_SMS: '1', GOAL_EMU_REFUSED: '1' } });
  t.equal(refused.status, 0, `a refused grid launch is planned again:\n${gist(refused, 4)}`);
  t.match(refused.stdout, /all checks passed/);
  // Registers limit an H200's grid kernels to 2 blocks per multiprocessor (threads and shared
  // memory alone allow up to 8): plans with several tiles on chip per block, which the run
  // above never makes.
  const regs = spawnSync(exe, { encoding: 'utf8', env: { ...process.env, GOAL_EMU_SMS: '2', GOAL_EMU_REGS: '128', GOAL_EMU_GRID: '1' } });
  t.equal(regs.status, 0, `register-limited grid plans:\n${gist(regs, 4)}`);
  t.match(regs.stdout, /all checks passed/);
  // 12 KB of shared memory a block, the block path's cases: W_hh in global memory (as on a GPU
  // with less shared memory than an H200 near N = 224) and r* off chip in larger readouts.
  const small = spawnSync(exe, { encoding: 'utf8', env: { ...process.env, GOAL_EMU_SMS: '2', GOAL_EMU_SMEM_KB: '12', GOAL_EMU_QUICK: '1' } });
  t.equal(small.status, 0, `the block path with W_hh in global memory:\n${gist(small, 4)}`);
  t.match(small.stdout, /all checks passed/);
  fs.rmSync(dir, { recursive: true });
});
