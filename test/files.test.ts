// Results files larger than V8's longest string: read a chunk at a time, written in parts, and
// nothing lost or changed at the chunk boundaries (a line, or a UTF-8 character, across one).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import t from 'tap';
import { checkWritable, fileLines, writeFileAtomic } from '../src/io/files';

const CHUNK = 1 << 20; // fileLines' read size

t.test('a bad path is quoted whole and escaped in the library too, not only on the command line', async (t) => {
  // JSON.stringify leaves U+202E (which reverses what follows on a terminal) as it is.
  t.throws(() => checkWritable('/no\u202egoal/x', '-savepath'),
    { code: 'GOAL_BAD_PATH', message: /^-savepath "\/no\\u202egoal\/x": folder "\/no\\u202egoal" does not exist$/ });
});

t.test('fileLines splits as String.split does, across chunk boundaries', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-files-'));
  const file = path.join(dir, 'x.txt');
  const cases: [string, string][] = [
    ['empty', ''],
    ['one newline', '\n'],
    ['no newline at the end', 'a\nb'],
    ['newline at the end', 'a\nb\n'],
    ['blank lines', '\n\nx\n\n'],
    // A 2-byte (τ) and a 3-byte (⋆) character whose bytes straddle the first chunk's end.
    ['τ across the boundary', `${'a'.repeat(CHUNK - 1)}τ\nrest`],
    ['⋆ across the boundary', `${'a'.repeat(CHUNK - 2)}⋆⋆\n`],
    ['a newline as the chunk\'s last byte', `${'b'.repeat(CHUNK - 1)}\n${'c'.repeat(CHUNK)}\nend`],
    ['a line of three chunks', `first\n${'d'.repeat(3 * CHUNK + 17)}\nlast\n`],
    ['many short lines', Array.from({ length: 300000 }, (_, i) => `{"i":${i},"τ⋆":${i % 7}}`).join('\n')],
  ];
  for (const [what, text] of cases) {
    fs.writeFileSync(file, text);
    const lines = [...fileLines(file)];
    const expected = text.split('\n');
    t.equal(lines.length, expected.length, `${what}: line count`);
    t.ok(lines.every((l, i) => l === expected[i]), `${what}: every line`);
  }
  t.throws(() => [...fileLines(path.join(dir, 'missing'))], { code: 'ENOENT' });
  fs.rmSync(dir, { recursive: true });
});

t.test('writeFileAtomic writes parts one after another', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-files-'));
  const file = path.join(dir, 'rows.jsonl');
  const parts = ['{"a":1}\n', '', 'τ⋆\n', 'x'.repeat(CHUNK + 3)];
  writeFileAtomic(file, parts);
  t.equal(fs.readFileSync(file, 'utf8'), parts.join(''));
  t.strictSame(fs.readdirSync(dir), ['rows.jsonl'], 'no temporary left behind');
  fs.rmSync(dir, { recursive: true });
});

t.test('writeFileAtomic with fresh never replaces a file, even one made while it wrote', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-files-'));
  const file = path.join(dir, 'merged.jsonl');
  const left = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
  writeFileAtomic(file, 'first\n', { fresh: true });
  t.equal(fs.readFileSync(file, 'utf8'), 'first\n', 'where there was none: written');
  const ino = fs.statSync(file).ino;
  t.throws(() => writeFileAtomic(file, 'second\n', { fresh: true }), { code: 'GOAL_BAD_PATH', message: /merged\.jsonl: exists: nothing was written over it/ });
  t.equal(fs.readFileSync(file, 'utf8'), 'first\n', 'the file there is kept as it was');
  t.equal(fs.statSync(file).ino, ino, 'the same file, not a copy');
  const dangling = path.join(dir, 'dangling.jsonl');
  fs.symlinkSync(path.join(dir, 'nowhere'), dangling);
  writeFileAtomic(dangling, 'through\n', { fresh: true });
  t.equal(fs.readFileSync(path.join(dir, 'nowhere'), 'utf8'), 'through\n', 'a symbolic link to no file yet: written through, as every write is');
  t.ok(fs.lstatSync(dangling).isSymbolicLink(), 'and the link stays a link');
  // The link that puts the file in place, as other processes and file systems answer it (the
  // module's fs is node's, whose functions the library reads at each call).
  const nodeFs = require('node:fs') as { linkSync: typeof fs.linkSync };
  const realLink = nodeFs.linkSync;
  const fail = (code: string) => Object.assign(new Error(code), { code });
  const cases: [string, (from: string, to: string) => void, string | null][] = [
    ['another process makes the file meanwhile', (from, to) => {
      fs.writeFileSync(to, 'theirs\n');
      realLink(from, to);
    }, 'theirs\n'],
    ['NFS retries a link whose reply was lost: the retry finds it made', (from, to) => {
      realLink(from, to);
      throw fail('EEXIST');
    }, null],
    ['a file system without hard links: renamed', () => {
      throw fail('EPERM');
    }, null],
    ['without hard links, and the file made meanwhile', (_from, to) => {
      fs.writeFileSync(to, 'theirs\n');
      throw fail('EPERM');
    }, 'theirs\n'],
  ];
  for (const [what, link, kept] of cases) {
    const target = path.join(dir, 'placed.jsonl');
    fs.rmSync(target, { force: true });
    nodeFs.linkSync = link as typeof fs.linkSync;
    try {
      if (kept === null) {
        writeFileAtomic(target, 'ours\n', { fresh: true });
      } else {
        t.throws(() => writeFileAtomic(target, 'ours\n', { fresh: true }), { code: 'GOAL_BAD_PATH', message: /placed\.jsonl: was created meanwhile, by another process: nothing was written over it/ }, what);
      }
    } finally {
      nodeFs.linkSync = realLink;
    }
    t.equal(fs.readFileSync(target, 'utf8'), kept ?? 'ours\n', `${what}: ${kept === null ? 'written' : 'theirs kept'}`);
    t.strictSame(left(), [], `${what}: no temporary left behind`);
  }
  fs.rmSync(dir, { recursive: true });
});

t.test('a replaced file keeps its permission bits (no setuid) and, where it may, its owner; a name of 255 bytes gets a temporary name that fits', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-files-'));
  const file = path.join(dir, 'private.pkl');
  fs.writeFileSync(file, 'old');
  fs.chmodSync(file, 0o4600);
  writeFileAtomic(file, 'new');
  t.equal(fs.readFileSync(file, 'utf8'), 'new');
  t.equal(fs.statSync(file).mode & 0o7777, 0o600, 'a private file stays private, without its setuid bit');
  if (process.getuid?.() === 0) {
    fs.chownSync(file, 65534, 65534);
    writeFileAtomic(file, 'newer');
    t.match(fs.statSync(file), { uid: 65534, gid: 65534 }, 'root replacing another user\'s file leaves it theirs');
  } else {
    t.skip('not root: no other owner to keep', () => {});
  }
  for (const name of ['y'.repeat(251) + '.pkl', 'τ'.repeat(125) + '.pkl']) { // 255 bytes each
    const long = path.join(dir, name);
    checkWritable(long, '-savepath');
    writeFileAtomic(long, 'data');
    t.equal(fs.readFileSync(long, 'utf8'), 'data', `${Buffer.byteLength(name)}-byte name`);
  }
  t.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, 'no temporary left behind');
  fs.rmSync(dir, { recursive: true });
});

t.test('appendLine undoes a write that fails: no part of a line, no empty file left', { skip: process.platform === 'win32' ? 'needs ulimit -f' : false }, async (t) => {
  // A file-size limit (ulimit -f, in KiB) makes a write past it fail (EFBIG) as a full disk
  // would; SIGXFSZ, ignored, is ignored in the child too.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-append-'));
  const files = path.join(__dirname, '..', 'dist', 'src', 'io', 'files.js');
  const script = `const { appendLine } = require(${JSON.stringify(files)});
    const tryAppend = (f, n) => { try { appendLine(f, 'x'.repeat(n)); return 'ok'; } catch (e) { return e.message; } };
    console.log(JSON.stringify([tryAppend(process.argv[1], 100), tryAppend(process.argv[1], 8000), tryAppend(process.argv[2], 8000),
      tryAppend(process.argv[3], 8000)]));`;
  // A link to a file not there yet: the file the open creates is removed, not the link.
  fs.symlinkSync(path.join(dir, 'target.jsonl'), path.join(dir, 'link.jsonl'));
  const r = spawnSync('sh', ['-c', 'ulimit -f 4 && trap "" XFSZ && exec "$0" -e "$1" "$2" "$3" "$4"', process.execPath, script,
    path.join(dir, 'old.jsonl'), path.join(dir, 'new.jsonl'), path.join(dir, 'link.jsonl')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const [small, big, fresh, linked] = JSON.parse(r.stdout) as string[];
  t.match(linked, /cannot write it \(EFBIG\)/);
  t.strictSame(fs.readdirSync(dir).sort(), ['link.jsonl', 'old.jsonl'], 'the link stays, the file it created is gone');
  t.equal(small, 'ok', 'a line within the limit is written');
  t.match(big, /cannot write it \(EFBIG\)/, 'a line past it fails');
  t.equal(fs.readFileSync(path.join(dir, 'old.jsonl'), 'utf8'), `${'x'.repeat(100)}\n`, 'and leaves the file as it was');
  t.match(fresh, /cannot write it \(EFBIG\)/);
  t.notOk(fs.existsSync(path.join(dir, 'new.jsonl')), 'a file the failed write created is removed');
  fs.rmSync(dir, { recursive: true });
});
