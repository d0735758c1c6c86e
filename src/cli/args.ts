// The command line's one flag reader and its one error helper. Three different things used to share the
// word "backend"; each now has its own flag (the old spellings stay as aliases, README "Flags"):
//   --sides model|kernel|both       which sides run (conform's Sides)
//   --runtime netns|docker          where the kernel lab runs (lab's LabRuntime)
//   --iptables nft|legacy[|both]    which iptables loads the rules (model's IptablesFlavor)
// `--backend` still takes any of model|kernel|both|netns|docker (run, check, validate), netns|docker
// (trace, fuzz) or nft|legacy (lint).
import { PROXY_MODES, type ProxyMode } from '../kube/proxy-mode.ts';
import { KUBE_PROXY_VERSIONS, kubeProxyVersionOf, type KubeProxyVersion } from '../kube/kube-proxy-version.ts';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError, type IptablesFlavor } from '../model/index.ts';
import type { LabRuntime } from '../lab/site.ts';
import type { Sides } from '../conform/sides.ts';

/** A bad command line: exit 2 with the reason (main.ts), never a stack trace. */
export const cmdline = (reason: string, kind: 'syntax' | 'invalid' = 'syntax'): InputError =>
  new InputError(kind, reason, { file: '<command line>', line: 1, col: 1 });

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict, whose errors (unknown flag, missing value) are command-line errors. */
export function readFlags<O extends Options>(
  argv: string[],
  options: O,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) throw cmdline(e.message);
    throw e;
  }
}

/** A flag's value, one of a fixed list. */
export function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[], why = ''): T {
  if (!(allowed as readonly string[]).includes(v))
    throw cmdline(`${flag} must be ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')}${why}, not "${v}"`);
  return v as T;
}

export const IPTABLES_FLAVORS: readonly IptablesFlavor[] = ['nft', 'legacy'];
const RUNTIMES: readonly LabRuntime[] = ['netns', 'docker'];

/** `--iptables nft|legacy`. */
export function iptablesOf(v: string | undefined): IptablesFlavor | undefined {
  return v === undefined ? undefined : oneOf('--iptables', v, IPTABLES_FLAVORS);
}

/** `--iptables nft|legacy|both` (run, check: both runs each case on each and compares the two kernels). */
export function iptablesOrBothOf(v: string | undefined): IptablesFlavor | 'both' | undefined {
  return v === undefined ? undefined : oneOf('--iptables', v, [...IPTABLES_FLAVORS, 'both'] as const);
}

/** `--runtime netns|docker` (alias `--backend netns|docker`): where a kernel lab runs. */
export function runtimeOf(runtime: string | undefined, alias: string | undefined, what: string): LabRuntime {
  if (runtime !== undefined) return oneOf('--runtime', runtime, RUNTIMES, ` (where ${what} runs)`);
  if (alias !== undefined) return oneOf('--backend', alias, RUNTIMES, ` (where ${what} runs)`);
  return 'netns';
}

export interface SidesAndRuntime {
  sides: Sides;
  runtime: LabRuntime;
}

/** `--sides model|kernel|both` and `--runtime netns|docker`; the older `--backend` takes either
 *  (netns|docker meaning both sides with the lab in that runtime). The new flags win over the alias. */
export function sidesOf(
  values: { sides?: string | undefined; runtime?: string | undefined; backend?: string | undefined },
  fallback: Sides,
): SidesAndRuntime {
  let sides = fallback;
  let runtime: LabRuntime = 'netns';
  const b = values.backend;
  if (b !== undefined) {
    const v = oneOf('--backend', b, ['model', 'kernel', 'both', 'netns', 'docker'] as const);
    if (v === 'netns' || v === 'docker') [sides, runtime] = ['both', v];
    else sides = v;
  }
  if (values.sides !== undefined) sides = oneOf('--sides', values.sides, ['model', 'kernel', 'both'] as const);
  if (values.runtime !== undefined) runtime = oneOf('--runtime', values.runtime, RUNTIMES);
  return { sides, runtime };
}

/** 90s, 10m, 1h, 150ms: seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) throw cmdline(`bad duration "${s}" (e.g. 90s, 10m, 1h)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

/** A whole number ≥ min (ports, counts). */
export function intOf(flag: string, v: string, min = 0): number {
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw cmdline(`bad ${flag} "${v}"`);
  return Number(v);
}

/** `--mode iptables|nftables`: kube-proxy's mode the Services are compiled in (default iptables). */
export function proxyModeOf(v: string | undefined): ProxyMode {
  if (v === undefined) return 'iptables';
  if (!(PROXY_MODES as readonly string[]).includes(v))
    throw cmdline(`--mode must be ${PROXY_MODES.join(' or ')}, not ${JSON.stringify(v.slice(0, 40))}`);
  return v as ProxyMode;
}

/** `--mode` and, in nftables mode, `--kube-proxy-version 1.36|1.35`: the release whose table shape to write
 *  (default the newest; spec/kube.md §2a). */
export interface ModeChoice {
  mode: ProxyMode;
  kubeProxyVersion?: KubeProxyVersion;
}

export function modeChoiceOf(values: {
  mode?: string | undefined;
  'kube-proxy-version'?: string | undefined;
}): ModeChoice {
  const mode = proxyModeOf(values.mode);
  const v = values['kube-proxy-version'];
  if (v === undefined) return { mode };
  const version = kubeProxyVersionOf(v);
  if (!version)
    throw cmdline(
      `--kube-proxy-version must be ${KUBE_PROXY_VERSIONS.join(' or ')}, not ${JSON.stringify(v.slice(0, 40))}`,
    );
  if (mode !== 'nftables')
    throw cmdline('--kube-proxy-version says which nftables-mode shape: it goes with --mode nftables');
  return { mode, kubeProxyVersion: version };
}
