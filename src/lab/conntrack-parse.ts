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
    // "ipv4 2 tcp 6 117 TIME_WAIT src=... [UNREPLIED] src=... [ASSURED] mark=0 ...": a TCP entry's state is the
    // word before its first tuple; the status flags are bracketed
    out.push({
      proto,
      orig: side(tuples, proto, 0),
      reply: side(tuples, proto, 1),
      state: proto === 'tcp' && /^[A-Z_0-9]+$/.test(words[5] ?? '') ? words[5]! : null,
      flags: words
        .filter((w) => w === '[ASSURED]' || w === '[UNREPLIED]')
        .map((w) => w.slice(1, -1))
        .sort(),
    });
  }
  return out.sort((a, b) => (a.orig < b.orig ? -1 : a.orig > b.orig ? 1 : 0));
}
