// JSON inputs (case files, topologies, Services): parsed with a depth cap, checked field by
// field with the path of every problem, and located (line:col) in the text only when one is found.
import { InputError, quote, type SourcePos } from './errors.ts';
import { limits, limitHint } from './limits.ts';

export type JsonPath = readonly (string | number)[];
export type JsonObject = Record<string, unknown>;

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  return { line, col: offset - last };
}

/** Refuses nesting deeper than the cap before anything recursive (JSON.parse, a checker) sees the text. */
function checkDepth(text: string, file: string): void {
  const max = limits().jsonDepth;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max)
        throw new InputError('invalid', `JSON nested deeper than ${max} levels (${limitHint('jsonDepth')})`, {
          file,
          ...lineCol(text, i),
        });
    } else if (c === 125 || c === 93) depth--;
  }
}

/** JSON.parse with a depth cap and the syntax error's real line and column. */
export function parseJson(text: string, file: string, what = 'JSON'): unknown {
  checkDepth(text, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? lineCol(text, Number(m[1])) : { line: 1, col: 1 };
    throw new InputError('syntax', `${what} is not valid JSON: ${msg}`, { file, ...pos });
  }
}

/** End (exclusive) of the JSON value starting at i; iterative, so depth cannot overflow the stack. */
function skipValue(text: string, i: number): number {
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth <= 0) return i + 1;
    } else if (depth === 0 && /[\s,:]/.test(c)) return i;
  }
  return i;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

/** Offset of the value at `path` in valid JSON text (or of the deepest part of it that exists). */
export function offsetOf(text: string, path: JsonPath): number {
  let i = skipWs(text, 0);
  for (const seg of path) {
    const open = text[i];
    if (open !== '{' && open !== '[') return i;
    const start = i;
    i = skipWs(text, i + 1);
    let index = 0;
    let found = false;
    while (i < text.length && text[i] !== '}' && text[i] !== ']') {
      if (open === '{') {
        const keyEnd = skipValue(text, i);
        let key: unknown;
        try {
          key = JSON.parse(text.slice(i, keyEnd));
        } catch {
          return start;
        }
        i = skipWs(text, keyEnd);
        i = skipWs(text, i + 1); // ':'
        if (key === seg) {
          found = true;
          break;
        }
      } else if (index === seg) {
        found = true;
        break;
      }
      i = skipWs(text, skipValue(text, i));
      if (text[i] === ',') i = skipWs(text, i + 1);
      index++;
    }
    if (!found) return start;
  }
  return i;
}

/** Line and column of the value at `path` in valid JSON text (of its deepest existing part). */
export function jsonPosition(text: string, path: JsonPath): { line: number; col: number } {
  return lineCol(text, offsetOf(text, path));
}

/** "spec.ports[0].port", 'metadata.labels["a/b"]' as path segments. */
export function parseFieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of field.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(m[2]);
    else out.push(m[3]!);
  }
  return out;
}

/** The error with the line and column of its JSON path in `text`. */
export function locateJson(e: unknown, text: string): unknown {
  if (!(e instanceof InputError) || !e.pos?.jsonPath || e.pos.line > 0) return e;
  return e.at({ ...e.pos, ...lineCol(text, offsetOf(text, e.pos.jsonPath)) });
}

/** Parses and checks a JSON input; every problem names the file, line:col and JSON path. */
export function loadJson<T>(text: string, file: string, check: (raw: unknown, j: JsonChecker) => T, what?: string): T {
  const raw = parseJson(text, file, what);
  try {
    return check(raw, new JsonChecker(file));
  } catch (e) {
    throw locateJson(e, text);
  }
}

interface StrOpts {
  /** default 1 */
  min?: number;
  max?: number;
  /** a grammar check: a reason when the value does not fit */
  grammar?: (s: string) => string | undefined;
}

/** Typed reads of parsed JSON; every refusal carries the JSON path. */
export class JsonChecker {
  constructor(readonly file: string) {}

  /** "is required (a string)" for a missing field, else "must be a string, not 3" */
  private wrong(path: JsonPath, v: unknown, what: string): never {
    this.fail(path, v === undefined ? `is required (${what})` : `must be ${what}, not ${quote(v)}`);
  }

  fail(path: JsonPath, reason: string): never {
    const pos: SourcePos = { file: this.file, line: 0, col: 0, jsonPath: path };
    throw new InputError('invalid', reason, pos);
  }

  /** An object; with `keys`, any other key is refused (a misspelt field is not silently ignored). */
  obj(v: unknown, path: JsonPath, keys?: readonly string[]): JsonObject {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.wrong(path, v, 'an object');
    if (keys)
      for (const k of Object.keys(v))
        if (!keys.includes(k)) this.fail([...path, k], `unknown field (known: ${keys.join(', ')})`);
    return v as JsonObject;
  }

  str(v: unknown, path: JsonPath, opts: StrOpts = {}): string {
    if (typeof v !== 'string') this.wrong(path, v, 'a string');
    const min = opts.min ?? 1;
    if (v.length < min) this.fail(path, min === 1 ? 'must not be empty' : `must have at least ${min} characters`);
    if (opts.max !== undefined && v.length > opts.max) this.fail(path, `must have at most ${opts.max} characters`);
    const why = opts.grammar?.(v);
    if (why) this.fail(path, `${quote(v)}: ${why}`);
    return v;
  }

  int(v: unknown, path: JsonPath, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.wrong(path, v, `an integer ${min}..${max}`);
    return v;
  }

  num(v: unknown, path: JsonPath, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      this.wrong(path, v, `a number ${min}..${max}`);
    return v;
  }

  bool(v: unknown, path: JsonPath): boolean {
    if (typeof v !== 'boolean') this.wrong(path, v, 'true or false');
    return v;
  }

  arr(v: unknown, path: JsonPath, max = Infinity): unknown[] {
    if (!Array.isArray(v)) this.wrong(path, v, 'a list');
    if (v.length > max) this.fail(path, `has ${v.length} entries, at most ${max} allowed`);
    return v;
  }

  oneOf<T extends string | number>(v: unknown, path: JsonPath, values: readonly T[]): T {
    if (!values.includes(v as T)) this.wrong(path, v, `one of ${values.join(', ')}`);
    return v as T;
  }
}
