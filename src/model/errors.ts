/** Where in an input a problem was found (1-based line and column; 0 when only the path is known). */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
  /** in a JSON input: the path to the offending value, e.g. ["hosts", "node", "routes", 0, "dev"] */
  jsonPath?: readonly (string | number)[];
}

export type InputErrorKind = 'syntax' | 'unsupported' | 'invalid';

/** Longest piece of an input an error message repeats; longer tokens are cut (a 10 MB line stays out). */
export const MAX_TOKEN = 80;

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

function escapeControl(s: string, keepNewline: boolean): string {
  const re = keepNewline ? CONTROL : /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
  return s.replace(re, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** A whole message may hold file paths and the like: its words are cut later than quoted tokens. */
const MAX_WORD = 200;

function cut(s: string, max = MAX_TOKEN): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * A piece of input as an error message may show it: control characters (ESC, newlines) escaped,
 * cut at MAX_TOKEN characters. Strings are shown in double quotes, other values as JSON (shallow:
 * objects and arrays are only named, so a deeply nested value cannot overflow the stack here).
 */
export function quote(v: unknown): string {
  if (typeof v === 'string') return `"${escapeControl(cut(v), false).replace(/"/g, '\\"')}"`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

/** The JSON path as people write it: hosts.node.routes[0].dev, hosts["a b"].ruleset */
export function formatJsonPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${quote(seg)}]`;
  }
  return out;
}

/**
 * The one place where messages about bad input are built: whatever a reason quotes from an input,
 * control characters are escaped (a raw ESC or CR cannot reach a terminal) and every
 * whitespace-separated word is cut at MAX_WORD characters.
 */
export function safeMessage(s: string): string {
  return escapeControl(s, true)
    .split(/(\s+)/)
    .map((t) => (t.trim() ? cut(t, MAX_WORD) : t.slice(0, MAX_WORD)))
    .join('');
}

function where(pos: SourcePos | undefined): string {
  if (!pos) return '';
  const file = safeMessage(pos.file);
  const at = pos.line > 0 ? `${file}:${pos.line}:${pos.col}: ` : `${file}: `;
  return pos.jsonPath?.length ? `${at}${formatJsonPath(pos.jsonPath)}: ` : at;
}

/**
 * The one error type bad input may raise. The CLI prints `message` and exits 2;
 * anything else escaping a parser is a bug (a property test checks this).
 */
export class InputError extends Error {
  readonly kind: InputErrorKind;
  readonly pos: SourcePos | undefined;
  readonly reason: string;

  constructor(kind: InputErrorKind, reason: string, pos?: SourcePos) {
    const prefix = kind === 'unsupported' ? 'unsupported: ' : '';
    const safe = safeMessage(reason);
    super(`${where(pos)}${prefix}${safe}`);
    this.name = 'InputError';
    this.kind = kind;
    this.pos = pos;
    this.reason = safe;
  }

  /** The same error at another position (a JSON path located in its text, a file named). */
  at(pos: SourcePos): InputError {
    return new InputError(this.kind, this.reason, pos);
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}
