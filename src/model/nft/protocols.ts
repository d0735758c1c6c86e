// The names nft 1.0.6 reads and prints for protocols and services: it asks getprotobyname(3),
// getprotobynumber(3) and getaddrinfo(3), i.e. /etc/protocols and /etc/services, which the project
// embeds once (src/model/rules/netdb-data.ts, Debian 12's netbase).
import { PROTOCOLS, SERVICES } from '../rules/netdb-data.ts';

export const PROTO_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  PROTOCOLS.flatMap((p) => [p.name, ...p.aliases].map((n) => [n, p.number] as const)).reverse(),
);

/** the first entry for a number, as getprotobynumber returns it */
export const PROTO_NAME: Readonly<Record<number, string>> = Object.fromEntries(
  [...PROTOCOLS].reverse().map((p) => [p.number, p.name] as const),
);

export const SERVICE_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  SERVICES.flatMap((s) => [s.name, ...s.aliases].map((n) => [n, s.port] as const)).reverse(),
);
