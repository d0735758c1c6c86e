// Kubernetes names and addresses, checked as the API server checks them
// (k8s.io/apimachinery/pkg/util/validation: IsDNS1123Label, IsDNS1123Subdomain,
// IsDNS1035Label, IsValidPortName). Every string that reaches a compiled rule passes
// one of these first, so no value can end a quoted comment or a line (spec/kube.md §1).
import { parseIp, parseCidr, formatCidr, formatIp, type Cidr } from '../model/index.ts';

const LABEL_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** undefined when valid, else why not */
export function dns1123Label(s: string): string | undefined {
  if (s.length > 63) return 'must be at most 63 characters (a DNS-1123 label)';
  if (!LABEL_1123.test(s))
    return 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit';
  return undefined;
}

/** Service names: RFC 1035 labels (they become DNS names under the namespace) */
export function dns1035Label(s: string): string | undefined {
  if (s.length > 63) return 'must be at most 63 characters (a DNS-1035 label)';
  if (!LABEL_1035.test(s))
    return (
      'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter and' +
      ' ending with a letter or digit'
    );
  return undefined;
}

/** Node names, EndpointSlice names */
export function dns1123Subdomain(s: string): string | undefined {
  if (s.length > 253) return 'must be at most 253 characters (a DNS-1123 subdomain)';
  if (!SUBDOMAIN.test(s))
    return (
      'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", each part starting' +
      ' and ending with a letter or digit'
    );
  return undefined;
}

/** A label value (the kubernetes.io/service-name label of an EndpointSlice) */
export function labelValue(s: string): string | undefined {
  if (s.length > 63) return 'must be at most 63 characters (a label value)';
  if (!LABEL_VALUE.test(s))
    return 'must be a label value: letters, digits, "-", "_" and ".", starting and ending alphanumeric';
  return undefined;
}

/** IANA_SVC_NAME (RFC 6335 §5.1): a named targetPort */
export function ianaSvcName(s: string): string | undefined {
  if (s.length > 15) return 'must be at most 15 characters (IANA_SVC_NAME)';
  if (!/^[-a-z0-9]+$/.test(s)) return 'must contain only lower-case letters, digits and "-" (IANA_SVC_NAME)';
  if (!/[a-z]/.test(s)) return 'must contain at least one letter (IANA_SVC_NAME)';
  if (s.includes('--')) return 'must not contain "--" (IANA_SVC_NAME)';
  if (s.startsWith('-') || s.endsWith('-')) return 'must not begin or end with "-" (IANA_SVC_NAME)';
  return undefined;
}

/** Shows a bad value in a message: quoted, control characters escaped, long ones cut. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') {
    const cut = v.length > 40 ? `${v.slice(0, 40)}…` : v;
    return JSON.stringify(cut);
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v === undefined) return 'nothing';
  return Array.isArray(v) ? 'a list' : 'an object';
}

const IPV6ISH = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(\/\d+)?$/;

/** Why an address is refused: an IPv6 one (nfconform models IPv4) or not an address at all. */
export function addressProblem(s: string): string | undefined {
  if (parseIp(s) !== undefined) return undefined;
  if (IPV6ISH.test(s) && s.includes(':')) return `${showValue(s)} is an IPv6 address; nfconform models IPv4 only`;
  return `${showValue(s)} is not a valid IP address`;
}

/** A canonical IPv4 address (leading zeros and the like refused), or why not */
export function readIp(s: string): { ip: string } | { problem: string } {
  const p = addressProblem(s);
  return p ? { problem: p } : { ip: formatIp(parseIp(s)!) };
}

/** A CIDR with an explicit prefix length (host bits are cleared, as net.ParseCIDR does) */
export function readCidr(s: string): { cidr: Cidr; text: string } | { problem: string } {
  const slash = s.indexOf('/');
  if (slash < 0) return { problem: `${showValue(s)} is not a CIDR (no /length)` };
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const ap = addressProblem(addr);
  if (ap) return { problem: `${showValue(s)} is not a valid CIDR: ${ap}` };
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32)
    return { problem: `${showValue(s)} is not a valid CIDR (the length must be 0-32)` };
  const cidr = parseCidr(s)!;
  return { cidr, text: formatCidr(cidr) };
}
