// Caps on what one input may ask for, so that a hostile or broken file ends in a clear
// error (exit 2) instead of a machine out of memory. Each can be raised through the
// environment variable named in its message.

export interface Limits {
  /** bytes of one input file (case, topology, ruleset, Services) */
  inputBytes: number;
  /** nesting depth of a JSON input */
  jsonDepth: number;
  /** steps of one case file */
  steps: number;
  /** `repeat` of one probe step */
  repeat: number;
}

export const LIMIT_ENV: Record<keyof Limits, string> = {
  inputBytes: 'NFCONFORM_MAX_INPUT_BYTES',
  jsonDepth: 'NFCONFORM_MAX_JSON_DEPTH',
  steps: 'NFCONFORM_MAX_STEPS',
  repeat: 'NFCONFORM_MAX_REPEAT',
};

const DEFAULTS: Limits = { inputBytes: 32 * 1024 * 1024, jsonDepth: 64, steps: 10_000, repeat: 10_000 };

/** The limits in force: the defaults, or what the environment raises (or lowers) them to. */
export function limits(env: NodeJS.ProcessEnv = process.env): Limits {
  const out = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS) as (keyof Limits)[]) {
    const v = env[LIMIT_ENV[k]];
    if (v !== undefined && /^\d{1,15}$/.test(v) && Number(v) > 0) out[k] = Number(v);
  }
  return out;
}

/** "(at most N; raise with ENV=...)" for a message about a cap. */
export function limitHint(k: keyof Limits): string {
  return `at most ${limits()[k]}; set ${LIMIT_ENV[k]} to raise it`;
}
