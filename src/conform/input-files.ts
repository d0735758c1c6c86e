// Reading input files safely. Any file: a regular file (not a directory, device or fifo),
// at most limits().inputBytes. A file a case file names (rulesetFile, services.file,
// apply.services): only below the case file's own folder, the project's suites/, or a
// folder allowed with --allow-path; symlinks are followed first, so none leads out.
import { openSync, readSync, closeSync, statSync, realpathSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { InputError, quote } from '../model/index.ts';
import { limits, limitHint } from '../model/index.ts';
import type { JsonChecker, JsonPath } from '../model/index.ts';

function whyNot(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many symbolic links';
  if (code === 'ENAMETOOLONG') return 'file name too long';
  return `cannot read (${code ?? 'unknown error'})`;
}

/** Why `path` is no readable input file, or undefined. Never opens it (a fifo would block). */
function kindProblem(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    return whyNot(e);
  }
  if (st.isDirectory()) return 'is a directory, not a file';
  if (!st.isFile()) return 'is not a regular file (a device, fifo or socket)';
  return undefined;
}

/** The text of an input file; `what` names it in errors ("a case file"). Bounded read: /proc files report size 0. */
export function readInputFile(path: string, what = 'input'): string {
  const fail = (reason: string): never => {
    throw new InputError('invalid', `${what}: ${reason}`, { file: path, line: 0, col: 0 });
  };
  const why = kindProblem(path);
  if (why) fail(why);
  const max = limits().inputBytes;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return fail(whyNot(e));
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > max) fail(`larger than ${max} bytes (${limitHint('inputBytes')})`);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    return fail(whyNot(e));
  } finally {
    closeSync(fd);
  }
}

function realDir(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * The text of a file named at `path` in the JSON of `caseFile`: resolved relative to the case
 * file, confined to its folder and the folders in `allow` (after following symlinks).
 */
export function readReference(
  caseFile: string,
  ref: string,
  path: JsonPath,
  j: JsonChecker,
  allow: readonly string[],
): string {
  if (ref.includes('\0')) j.fail(path, 'a file name has no NUL character');
  const target = resolve(dirname(caseFile), ref);
  let real: string;
  try {
    real = realpathSync(target);
  } catch (e) {
    return j.fail(path, `${quote(ref)}: ${whyNot(e)}`);
  }
  const roots = [dirname(caseFile), ...allow].map(realDir).filter((d): d is string => d !== undefined);
  if (!roots.some((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep)))
    j.fail(
      path,
      `${quote(ref)} is outside the case file's folder (files a case names must be below it, or` +
        ` below a folder given with --allow-path)`,
    );
  const why = kindProblem(real);
  if (why) j.fail(path, `${quote(ref)} ${why}`);
  try {
    return readInputFile(real, quote(ref));
  } catch (e) {
    if (e instanceof InputError) return j.fail(path, e.reason);
    throw e;
  }
}
