/** Where in an input a problem was found (1-based line and column). */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export type InputErrorKind = 'syntax' | 'unsupported' | 'invalid';

/**
 * The one error type bad input may raise. The CLI prints `message` and exits 2;
 * anything else escaping a parser is a bug (a property test checks this).
 */
export class InputError extends Error {
  readonly kind: InputErrorKind;
  readonly pos: SourcePos | undefined;
  readonly reason: string;

  constructor(kind: InputErrorKind, reason: string, pos?: SourcePos) {
    const where = pos ? `${pos.file}:${pos.line}:${pos.col}: ` : '';
    const prefix = kind === 'unsupported' ? 'unsupported: ' : '';
    super(`${where}${prefix}${reason}`);
    this.name = 'InputError';
    this.kind = kind;
    this.pos = pos;
    this.reason = reason;
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}
