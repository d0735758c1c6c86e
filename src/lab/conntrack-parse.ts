// /proc/net/nf_conntrack lines -> the observation's conntrack records.
import type { ConntrackRecord } from '../model/index.ts';

function side(fields: Map<string, string>[], proto: string, i: number): string {
  const f = fields[i]!;
  if (proto === 'tcp' || proto === 'udp') return `${f.get('src')}:${f.get('sport')}>${f.get('dst')}:${f.get('dport')}`;
  if (proto === 'icmp') return `${f.get('src')}>${f.get('dst')} id=${f.get('id')}`;
  return `${f.get('src')}>${f.get('dst')}`;
}

export function parseConntrack(text: string): ConntrackRecord[] {
  const out: ConntrackRecord[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'ipv4') continue;
    const proto = words[2]!;
    const tuples: Map<string, string>[] = [];
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq < 0) continue;
      const k = w.slice(0, eq);
      if (k === 'src') tuples.push(new Map());
      tuples.at(-1)?.set(k, w.slice(eq + 1));
    }
    if (tuples.length < 2) continue;
    // the kernel's own background traffic (IGMP reports when a bridge comes up, multicast) is no probe's
    if (!['tcp', 'udp', 'icmp'].includes(proto) || Number(tuples[0]!.get('dst')?.split('.')[0]) >= 224) continue;
    out.push({ proto, orig: side(tuples, proto, 0), reply: side(tuples, proto, 1) });
  }
  return out.sort((a, b) => (a.orig < b.orig ? -1 : a.orig > b.orig ? 1 : 0));
}
