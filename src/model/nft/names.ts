// Which words nft takes as a table, chain, set or map name (nftables src/scanner.l and parser_bison.y
// `identifier: STRING`, spec/nft.md §2). A name is a scanner STRING: letters, digits and `/ - _ .` not
// starting with a digit, `-` or `/` (or a time such as `1d`, an IPv4 address, `8021q`), that is not one of the
// scanner's keywords. A quoted string is never a name (QUOTED_STRING). Measured on nft 1.0.6 in a throw-away
// namespace, every scanner word as a table, chain, set and map name, a jump target and an @reference.

/** The scanner's keywords outside every start condition: refused as names (nft 1.0.6, measured). */
export const NFT_KEYWORDS: ReadonlySet<string> = new Set(
  (
    'accept add ah all and arp auto-merge bridge cgroup chain comment comp constant continue counter cpu ' +
    'create ct day dccp define delete describe device devices dnat drop dst dup dynamic ecn element ' +
    'elements eq esp ether exists expires export exthdr fib flags flow flowtable flush frag fwd ' +
    'gc-interval ge get goto gt handle hbh hook hour ibriport ibrname icmp icmpv6 igmp iif iifgroup ' +
    'iifname iiftype import include index inet insert interval ip ip6 ipsec jhash jump le limit list log ' +
    'lshift lt map mark masquerade meta meter mh missing monitor ne netdev nftrace not notrack numgen ' +
    'obriport obrname offload oif oifgroup oifname oiftype or osf pkttype policy position priority queue ' +
    'quota random redefine redirect reject rename replace reset return rshift rt rt0 rt2 rtclassid rule ' +
    'ruleset sctp secmark set size skgid skuid snat socket srh symhash synproxy table tcp th time timeout ' +
    'tproxy type typeof udp udplite undefine update vlan vmap xor xt'
  ).split(' '),
);

/** After `@` the scanner also reads `ll` and `nh` as keywords (raw payload bases). */
const AT_KEYWORDS: ReadonlySet<string> = new Set(['ll', 'nh']);

const STRING = /^[A-Za-z_.][A-Za-z0-9/\-_.]*$/;
const TIME = /^(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Why a word cannot be a name, as nft's parser says it ("unexpected X, expecting string"), or undefined. */
export function nameProblem(text: string, quoted: boolean, afterAt = false): string | undefined {
  if (quoted) return 'a quoted string cannot be a name (nft: unexpected quoted string, expecting string)';
  if (NFT_KEYWORDS.has(text) || (afterAt && AT_KEYWORDS.has(text)))
    return `"${text}" is an nft keyword and cannot be a name`;
  const ok = (STRING.test(text) && text !== '.') || (TIME.test(text) && text !== '') || IPV4.test(text);
  if (!ok && text !== '8021q' && text !== '8021ad') return `"${text}" is not a name (nft: expecting string)`;
  return undefined;
}
