// Protocol and service names as iptables resolves them (libxtables/xtables.c:
// xtables_parse_protocol, xtables_parse_port; iptables/xshared.c: proto_to_name),
// over the embedded netbase tables (netdb-data.ts), never the host's files.
import { PROTOCOLS, SERVICES } from './netdb-data.ts';

export { PROTOCOLS, SERVICES };

/** xtables_chain_protos: tried before the database, both ways. */
const CHAIN_PROTOS: readonly (readonly [string, number])[] = [
  ['tcp', 6],
  ['sctp', 132],
  ['udp', 17],
  ['udplite', 136],
  ['icmp', 1],
  ['ipv6-icmp', 58],
  ['icmpv6', 58],
  ['esp', 50],
  ['ah', 51],
  ['mobility-header', 135],
  ['ipv6-mh', 135],
  ['mh', 135],
  ['all', 0],
];

/** strtoumax(s, 0) as xtables_strtoul takes it: base 0 (0x hex, 0 octal), leading blanks, no minus. */
export function parseCNumber(s: string, max: number): number | undefined {
  const m = /^[ \t\n\v\f\r]*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const t = m[1]!;
  const v = /^0[xX]/.test(t) ? parseInt(t.slice(2), 16) : t.length > 1 && t[0] === '0' ? parseInt(t, 8) : Number(t);
  return Number.isSafeInteger(v) && v <= max ? v : undefined;
}

/** `-p` after iptables lowercased it: a number 0..255, a name from xtables_chain_protos, or /etc/protocols. */
export function parseProtocolName(lower: string): number | undefined {
  const n = parseCNumber(lower, 255);
  if (n !== undefined) return n;
  const chain = CHAIN_PROTOS.find(([name]) => name === lower);
  if (chain) return chain[1];
  return PROTOCOLS.find((p) => p.name === lower || p.aliases.includes(lower))?.number;
}

/** The name iptables-save prints for a protocol number, or undefined (it then prints the number). */
export function protocolName(n: number): string | undefined {
  return (
    CHAIN_PROTOS.find(([, num]) => num === n)?.[0] ?? (n > 0 ? PROTOCOLS.find((p) => p.number === n)?.name : undefined)
  );
}

/** getservbyname(name, proto); proto undefined matches any protocol's entry. */
export function serviceToPort(name: string, proto: string | undefined): number | undefined {
  return SERVICES.find(
    (s) => (proto === undefined || s.proto === proto) && (s.name === name || s.aliases.includes(name)),
  )?.port;
}

/** xtables_parse_port: a number 0..65535 (C syntax) or a service name of the protocol. */
export function parsePortText(text: string, proto: string | undefined): number | undefined {
  return parseCNumber(text, 65535) ?? serviceToPort(text, proto);
}
