// A host snapshot (spec/snapshot.md): what `nfconform snapshot` read, read-only, from a live host.
// Raw command output is kept as the commands gave it (iptables-save text, `ip -j` JSON), so that a
// snapshot taken today can be read again by a better model tomorrow; this module only checks its frame.
import { JsonChecker, type JsonPath } from '../json.ts';

export const SNAPSHOT_FORMAT = 'nfconform-snapshot';
export const SNAPSHOT_VERSION = 1;

/** How one read-only command went: `absent` (the tool is not installed) is a fact, not a failure. */
export interface CommandRecord {
  argv: string[];
  status: 'ok' | 'absent' | 'failed';
  /** stderr's first line when failed */
  error?: string;
}

export interface Snapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  /** ISO 8601 time the snapshot was taken */
  taken: string;
  /** the network namespace read, or null for the caller's own (the root namespace by default) */
  netns: string | null;
  kernel: string | null;
  iptablesVersion: string | null;
  /** `iptables-save -c` of each backend; null when that backend's tool is absent or failed */
  iptables: { nft: string | null; legacy: string | null };
  /** `ipset save`, null when ipset is absent */
  ipset: string | null;
  /** `nft list ruleset` (native nft tables, and iptables-nft's as nft lists them), null when nft is absent or
   *  failed; absent from snapshots of an nfconform that did not read it */
  nft?: string | null;
  /** `ip -j -d link`, `ip -j addr`, `ip -j route`, `ip -j rule` as parsed JSON (null when they failed) */
  ip: { link: unknown[] | null; addr: unknown[] | null; route: unknown[] | null; rule: unknown[] | null };
  /** sysctl key in slash form (net/ipv4/conf/eth0/rp_filter) -> value as read */
  sysctls: Record<string, string>;
  /** every command run, in order */
  commands: CommandRecord[];
}

// an empty iptables-save output is a fact (no tables loaded), not a missing field
const maybeStr = (j: JsonChecker, v: unknown, path: JsonPath): string | null =>
  v === null ? null : j.str(v, path, { min: 0, max: Infinity });
const maybeArr = (j: JsonChecker, v: unknown, path: JsonPath): unknown[] | null => (v === null ? null : j.arr(v, path));

/** A snapshot file's frame, checked: format, version and the type of every field the model reads. */
export function checkSnapshot(raw: unknown, j: JsonChecker, path: JsonPath = []): Snapshot {
  const o = j.obj(raw, path);
  if (o.format !== SNAPSHOT_FORMAT) j.fail([...path, 'format'], `expected "${SNAPSHOT_FORMAT}" (not a snapshot file)`);
  if (o.version !== SNAPSHOT_VERSION)
    j.fail([...path, 'version'], `snapshot version ${String(o.version)} is not supported (this nfconform reads 1)`);
  const ipt = j.obj(o.iptables, [...path, 'iptables']);
  const ip = j.obj(o.ip, [...path, 'ip']);
  const sys = j.obj(o.sysctls, [...path, 'sysctls']);
  const sysctls: Record<string, string> = {};
  for (const [k, v] of Object.entries(sys)) sysctls[k] = j.str(v, [...path, 'sysctls', k], { max: Infinity });
  const commands = j.arr(o.commands ?? [], [...path, 'commands']).map((c, i): CommandRecord => {
    const co = j.obj(c, [...path, 'commands', i]);
    const argv = j
      .arr(co.argv, [...path, 'commands', i, 'argv'])
      .map((a, k) => j.str(a, [...path, 'commands', i, 'argv', k], { min: 0, max: Infinity }));
    const status = j.oneOf(co.status, [...path, 'commands', i, 'status'], ['ok', 'absent', 'failed'] as const);
    const rec: CommandRecord = { argv, status };
    if (co.error !== undefined) rec.error = j.str(co.error, [...path, 'commands', i, 'error'], { max: Infinity });
    return rec;
  });
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    taken: j.str(o.taken, [...path, 'taken'], { max: Infinity }),
    netns: maybeStr(j, o.netns, [...path, 'netns']),
    kernel: maybeStr(j, o.kernel, [...path, 'kernel']),
    iptablesVersion: maybeStr(j, o.iptablesVersion, [...path, 'iptablesVersion']),
    iptables: {
      nft: maybeStr(j, ipt.nft, [...path, 'iptables', 'nft']),
      legacy: maybeStr(j, ipt.legacy, [...path, 'iptables', 'legacy']),
    },
    ipset: maybeStr(j, o.ipset, [...path, 'ipset']),
    ...(o.nft !== undefined ? { nft: maybeStr(j, o.nft, [...path, 'nft']) } : {}),
    ip: {
      link: maybeArr(j, ip.link, [...path, 'ip', 'link']),
      addr: maybeArr(j, ip.addr, [...path, 'ip', 'addr']),
      route: maybeArr(j, ip.route, [...path, 'ip', 'route']),
      rule: maybeArr(j, ip.rule, [...path, 'ip', 'rule']),
    },
    sysctls,
    commands,
  };
}
