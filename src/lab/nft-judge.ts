// Real nft as the judge of the nft language: each ruleset is loaded with `nft -f` into a throw-away
// network namespace (`unshare -n`, never the root namespace) and listed back with `nft list ruleset`.
// One unshare process handles a whole batch; the script is fixed text, the rulesets go in files.
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export interface NftVerdict {
  ok: boolean;
  /** `nft list ruleset` after a successful load */
  listing: string;
  /** nft's error text after a refused load */
  stderr: string;
  /** `nft -j list ruleset` after a successful load (with `json`) */
  json?: string;
}

const SCRIPT = `
json=$1; shift
for f in "$@"; do
  nft flush ruleset
  if nft -f "$f" 2>"$f.err"; then
    nft list ruleset >"$f.out" 2>>"$f.err"
    if [ "$json" = 1 ]; then nft -j list ruleset >"$f.json" 2>>"$f.err"; fi
    echo ok >"$f.rc"
  else echo no >"$f.rc"; fi
done
`;

/** Why real nft cannot judge here, if it cannot. */
export function nftJudgeSkipReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  try {
    execFileSync('unshare', ['-n', 'nft', 'list', 'ruleset'], { stdio: 'ignore', timeout: 20_000 });
    return undefined;
  } catch {
    return 'nft in `unshare -n` does not run (install nftables: scripts/setup.sh)';
  }
}

/** Each text loaded and listed by real nft; with `json`, also listed as `nft -j` writes it. */
export async function judgeNft(texts: readonly string[], opts: { json?: boolean } = {}): Promise<NftVerdict[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-nft-'));
  try {
    const files = texts.map((t, i) => {
      const f = join(dir, `r${i}.nft`);
      writeFileSync(f, t);
      return f;
    });
    await execa('unshare', ['-n', 'sh', '-c', SCRIPT, 'sh', opts.json ? '1' : '0', ...files], {
      timeout: 60_000 + texts.length * 2_000,
    });
    return files.map((f) => {
      const rc = existsSync(`${f}.rc`) ? readFileSync(`${f}.rc`, 'utf8').trim() : 'no';
      return {
        ok: rc === 'ok',
        listing: existsSync(`${f}.out`) ? readFileSync(`${f}.out`, 'utf8') : '',
        stderr: existsSync(`${f}.err`) ? readFileSync(`${f}.err`, 'utf8').trim() : '',
        ...(existsSync(`${f}.json`) ? { json: readFileSync(`${f}.json`, 'utf8') } : {}),
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
