// How the modules of spec/modules.md decide, each after its kernel source (net/netfilter/xt_*.c). Merged
// into MATCHERS (matchers.ts), keyed by descriptor name like the others.
import type { ExtInstance } from '../rules/types.ts';
import { valueAs } from './options.ts';
import type { Test, MatchEnv } from './matchers.ts';
import type { Pkt } from './packet.ts';
import { inIpset } from '../net/ipsets.ts';
import { isBroadcast } from '../net/routing.ts';

type Builder = (ext: ExtInstance) => Test;

/** The lab runs every process as root: a process socket's fsuid and fsgid are 0, its supplementary groups [0]. */
export const LAB_UID = 0;
export const LAB_GID = 0;

const allOf =
  (tests: Test[]): Test =>
  (p, env) =>
    tests.every((t) => t(p, env));

/** The socket xt_owner sees on this host: the packet's own socket if it was sent here, else none. */
function socketOf(p: Pkt, env: MatchEnv): 'process' | 'kernel' | undefined {
  return p.sock && p.sock.host === env.host.name ? p.sock.kind : undefined;
}

/** xt_pkttype.c: skb->pkt_type. Sent packets are PACKET_HOST; a received one is typed by its link-layer
 *  destination; br_netfilter turns PACKET_OTHERHOST into PACKET_HOST for the IPv4 hooks (setup_pre_routing,
 *  br_nf_forward_ip), so bridged unicast is unicast too. */
function pktTypeOf(p: Pkt, env: MatchEnv): number {
  if (env.hook === 'OUTPUT' || socketOf(p, env)) return 0;
  if (p.dst >>> 28 === 0xe) return 2;
  if (p.dst === 0xffffffff || isBroadcast(env.host, p.dst)) return 1;
  return 0;
}

/** A module whose decision rests on what the lab cannot pin: both answers are followed (spec/semantics.md §10). */
export const open =
  (why: string): Builder =>
  () =>
  (_p, env) =>
    env.unknown(why);

export const MODULE_MATCHERS: Record<string, Builder> = {
  connlimit: open("connlimit: the count of the host's connections is not followed"),
  socket: open('socket: the socket lookup is not modelled'),
  rpfilter: open('rpfilter: the reverse route lookup is not modelled'),
  mac: open("mac: the lab's interfaces get random MAC addresses"),
  owner: (ext) => {
    // xt_owner.c owner_mt, with info->match = the options given and info->invert = the negated ones
    const given = ext.opts.filter((o) => o.name !== '--suppl-groups');
    const suppl = ext.opts.some((o) => o.name === '--suppl-groups');
    const allNeg = given.every((o) => o.neg);
    const idsNeg = given.filter((o) => o.name !== '--socket-exists').every((o) => o.neg);
    const sockNeg = given.some((o) => o.name === '--socket-exists' && o.neg);
    return (p, env) => {
      const sock = socketOf(p, env);
      if (!sock) return allNeg;
      if (sockNeg) return false;
      // a kernel socket (TCP reset, ICMP error, echo reply) has no file: only negated uid/gid tests hold
      if (sock === 'kernel') return idsNeg;
      for (const o of given) {
        if (o.name === '--uid-owner') {
          const [lo, hi] = valueAs(ext.name, o, 'uidRange');
          if ((LAB_UID >= lo && LAB_UID <= hi) === o.neg) return false;
        }
        if (o.name === '--gid-owner') {
          const [lo, hi] = valueAs(ext.name, o, 'gidRange');
          const hit = (LAB_GID >= lo && LAB_GID <= hi) || (suppl && LAB_GID >= lo && LAB_GID <= hi);
          if (hit === o.neg) return false;
        }
      }
      return true;
    };
  },
  set: (ext) => {
    // xt_set.c set_match_v4 -> ip_set_test; a set the host lacks cannot be in a loaded rule (the load fails)
    const o = ext.opts.find((x) => x.name === '--match-set')!;
    const ref = valueAs(ext.name, o, 'setMatch');
    return (p, env) => {
      const set = env.host.ipsets.get(ref.name);
      if (!set) throw new Error(`internal: set ${ref.name} does not exist on ${env.host.name}`);
      return inIpset(set, ref.dirs, p) !== o.neg;
    };
  },
  iprange: (ext) => {
    // xt_iprange.c iprange_mt4: an address outside [min, max] fails (a reversed range matches nothing)
    const tests: Test[] = ext.opts.map((o) => {
      const [lo, hi] = valueAs(ext.name, o, 'ipRange');
      const field = o.name === '--src-range' ? 'src' : 'dst';
      return (p) => (p[field] >= lo && p[field] <= hi) !== o.neg;
    });
    return allOf(tests);
  },
  connmark: (ext) => {
    // xt_connmark.c connmark_mt: no connection (or untracked): false
    const o = ext.opts[0]!;
    const m = valueAs(ext.name, o, 'markMask');
    return (p, env) => {
      if (!env.ct || p.notrack) return false;
      return ((env.ct.entry.mark & m.mask) >>> 0 === m.value) !== o.neg;
    };
  },
  pkttype: (ext) => {
    const o = ext.opts[0]!;
    const want = valueAs(ext.name, o, 'pktType');
    return (p, env) => (pktTypeOf(p, env) === want) !== o.neg;
  },
  physdev: (ext) => {
    // xt_physdev.c physdev_mt, option by option
    const get = (n: string) => ext.opts.find((o) => o.name === n);
    const bridged = get('--physdev-is-bridged');
    const isIn = get('--physdev-is-in');
    const isOut = get('--physdev-is-out');
    const inName = get('--physdev-in');
    const outName = get('--physdev-out');
    const name = (o: typeof inName) => (o ? valueAs(ext.name, o, 'ifaceName') : '');
    const ifMatch = (pattern: string, dev: string) =>
      pattern.endsWith('+') ? dev.startsWith(pattern.slice(0, -1)) : dev === pattern;
    return (_p, env) => {
      const phys = env.phys;
      if (!phys) return ext.opts.every((o) => o.neg);
      const outdev = phys.out;
      const indev = phys.in;
      if (bridged && (outdev !== undefined) !== !bridged.neg) return false;
      if (isIn && (indev === undefined) !== isIn.neg) return false;
      if (isOut && (outdev === undefined) !== isOut.neg) return false;
      if (inName && indev !== undefined && ifMatch(name(inName), indev) === inName.neg) return false;
      if (!outName) return true;
      if (outdev === undefined) return false;
      return ifMatch(name(outName), outdev) !== outName.neg;
    };
  },
};
