// Errors by phase (spec/equivalence.md §5). Bad input is the model's InputError (exit 2). A crash of the
// model or of the engine is an InternalError (exit 3, with what reproduces it): never a kernel failure and
// never a divergence. Only a LabFailure (the lab could not do what it was asked) marks the kernel side failed.

/** The lab failed (a command, an agent, the Docker helper): the kernel side of this case failed. */
export class LabFailure extends Error {
  override name = 'LabFailure';
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export interface Reproduce {
  /** the case file, or the case's name when it was generated */
  case?: string | undefined;
  /** a fuzz campaign's seed and the fast-check path of the case */
  seed?: number;
  path?: string;
}

/** A bug in nfconform itself: the model's or the engine's code threw. */
export class InternalError extends Error {
  override name = 'InternalError';
  constructor(
    readonly phase: 'model' | 'engine',
    override readonly cause: unknown,
    readonly reproduce: Reproduce = {},
  ) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const how = [
      reproduce.case !== undefined ? `case ${reproduce.case}` : '',
      reproduce.seed !== undefined
        ? `reproduce: nfconform fuzz --replay ${reproduce.seed}:${reproduce.path ?? ''}`
        : '',
    ].filter(Boolean);
    super(
      `internal error in the ${phase} (a bug in nfconform, not a divergence):` +
        ` ${why}${how.length ? `\n  ${how.join('\n  ')}` : ''}`,
    );
    if (cause instanceof Error && cause.stack) this.stack = `${this.message}\n${cause.stack}`;
  }

  /** The same error, saying more about how to reproduce it. */
  with(more: Reproduce): InternalError {
    return new InternalError(this.phase, this.cause, { ...this.reproduce, ...more });
  }
}
