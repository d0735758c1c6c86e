// Services and EndpointSlices as `kubectl get svc,endpointslices -A -o json` prints them,
// reduced to the fields that decide what kube-proxy programs. Every name and address is
// checked as the API server checks it (names.ts). An invalid object is skipped with a
// warning that names the object and the field, as kube-proxy logs and skips; with
// `strict` the first one is an input error instead (case files, spec/kube.md §1).
import { InputError, parseJson, jsonPosition, parseFieldPath } from '../model/index.ts';
import {
  dns1035Label,
  dns1123Label,
  dns1123Subdomain,
  ianaSvcName,
  labelValue,
  readCidr,
  readIp,
  showValue,
} from './names.ts';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  name: string;
  protocol: Protocol;
  port: number;
  targetPort: number | string;
  nodePort?: number;
}

export interface Service {
  namespace: string;
  name: string;
  type: ServiceType;
  /** undefined for headless, ExternalName and a Service without an allocated address */
  clusterIP?: string;
  ports: ServicePort[];
  sessionAffinity: 'None' | 'ClientIP';
  affinitySeconds: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
  internalTrafficPolicy: 'Cluster' | 'Local';
  /** load-balancer ingress IPs kube-proxy programs (ipMode VIP; ipMode Proxy ones are left to the load balancer) */
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  externalIPs: string[];
  /** LoadBalancer with externalTrafficPolicy Local: the port kube-proxy's health server answers on */
  healthCheckNodePort?: number;
}

export interface Endpoint {
  ip: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  /** topology hints (hints.forZones / hints.forNodes), set by the EndpointSlice controller */
  zoneHints?: string[];
  nodeHints?: string[];
}

export interface EndpointSlice {
  namespace: string;
  name: string;
  /** kubernetes.io/service-name */
  service: string;
  ports: { name: string; port: number; protocol: Protocol }[];
  endpoints: Endpoint[];
}

export interface Cluster {
  services: Service[];
  slices: EndpointSlice[];
}

/** An object left out (skipped) or a value in it ignored, and why. */
export interface ObjectWarning {
  /** "Service ns/name", "EndpointSlice ns/name" or "items[3]" */
  object: string;
  /** the JSON path inside the object, e.g. spec.ports[0].name */
  field: string;
  reason: string;
  /** true: the whole object was left out; false: only this value */
  skipped: boolean;
}

export interface ReadCluster extends Cluster {
  warnings: ObjectWarning[];
}

type Json = Record<string, unknown>;

/** One object's problem; caught per object by readCluster. */
class ObjectProblem extends Error {
  constructor(
    readonly object: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${object}: ${field}: ${reason}`);
  }
}

class Reader {
  object = 'the document';
  readonly ignored: ObjectWarning[] = [];
  fail(field: string, reason: string): never {
    throw new ObjectProblem(this.object, field, reason);
  }
  ignore(field: string, reason: string): void {
    this.ignored.push({ object: this.object, field, reason, skipped: false });
  }
  obj(v: unknown, field: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      this.fail(field, `must be an object, not ${showValue(v)}`);
    return v as Json;
  }
  str(v: unknown, field: string): string {
    if (typeof v !== 'string' || v === '') this.fail(field, `must be a non-empty string, not ${showValue(v)}`);
    return v;
  }
  name(v: unknown, field: string, check: (s: string) => string | undefined): string {
    const s = this.str(v, field);
    const why = check(s);
    if (why) this.fail(field, `${showValue(s)} ${why}`);
    return s;
  }
  int(v: unknown, field: string, lo: number, hi: number, what: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      this.fail(field, `must be ${what} ${lo}-${hi}, not ${showValue(v)}`);
    return v;
  }
  port(v: unknown, field: string): number {
    return this.int(v, field, 1, 65535, 'a port');
  }
  ip(v: unknown, field: string): string {
    const r = readIp(this.str(v, field));
    if ('problem' in r) this.fail(field, r.problem);
    return r.ip;
  }
  list(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, `must be a list, not ${showValue(v)}`);
    return v;
  }
  oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], dflt: T): T {
    const x = v ?? dflt;
    if (!allowed.includes(x as T)) this.fail(field, `must be ${allowed.join(', ')}, not ${showValue(x)}`);
    return x as T;
  }
  protocol(v: unknown, field: string): Protocol {
    return this.oneOf(v, field, ['TCP', 'UDP', 'SCTP'] as const, 'TCP');
  }
  /** IPv4 addresses of a list; IPv6 ones are the IPv6 proxier's (ignored, noted), invalid ones refuse the object */
  ipv4s(v: unknown, field: string): string[] {
    return this.list(v, field).flatMap((x, i) => {
      const s = this.str(x, `${field}[${i}]`);
      if (s.includes(':')) {
        this.ignore(`${field}[${i}]`, `${showValue(s)} is IPv6: nfconform models IPv4 only, so it is left out`);
        return [];
      }
      return [this.ip(s, `${field}[${i}]`)];
    });
  }
}

/** An object's metadata: namespace (default "default") and name, checked as the API server does. */
function readMeta(r: Reader, o: Json, kind: string, nameRule: (s: string) => string | undefined) {
  const meta = r.obj(o.metadata, 'metadata');
  const namespace =
    meta.namespace === undefined ? 'default' : r.name(meta.namespace, 'metadata.namespace', dns1123Label);
  const name = r.name(meta.name, 'metadata.name', nameRule);
  r.object = `${kind} ${namespace}/${name}`;
  return { meta, namespace, name };
}

function readService(r: Reader, o: Json): Service {
  const { namespace, name } = readMeta(r, o, 'Service', dns1035Label);
  const spec = r.obj(o.spec, 'spec');
  const type = r.oneOf(
    spec.type,
    'spec.type',
    ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const,
    'ClusterIP',
  );
  let clusterIP: string | undefined;
  if (type !== 'ExternalName' && spec.clusterIP !== 'None' && spec.clusterIP !== undefined && spec.clusterIP !== '') {
    const s = r.str(spec.clusterIP, 'spec.clusterIP');
    if (s.includes(':')) r.fail('spec.clusterIP', `${showValue(s)} is IPv6: nfconform models IPv4 only`);
    clusterIP = r.ip(s, 'spec.clusterIP');
  }
  // a LoadBalancer may go without node ports (allocateLoadBalancerNodePorts: false)
  const needsNodePort =
    type === 'NodePort' || (type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
  const rawPorts = r.list(spec.ports, 'spec.ports');
  const seen = new Set<string>();
  const ports = rawPorts.map((p, i): ServicePort => {
    const at = `spec.ports[${i}]`;
    const po = r.obj(p, at);
    const portName = po.name === undefined || po.name === '' ? '' : r.name(po.name, `${at}.name`, dns1123Label);
    if (rawPorts.length > 1 && portName === '') r.fail(`${at}.name`, 'must be given when a Service has several ports');
    if (seen.has(portName)) r.fail(`${at}.name`, `${showValue(portName)} is used by another port of this Service`);
    seen.add(portName);
    const port = r.port(po.port, `${at}.port`);
    const tp = po.targetPort ?? port;
    const targetPort =
      typeof tp === 'string' && !/^\d+$/.test(tp)
        ? r.name(tp, `${at}.targetPort`, ianaSvcName)
        : r.port(typeof tp === 'string' ? Number(tp) : tp, `${at}.targetPort`);
    const sp: ServicePort = { name: portName, protocol: r.protocol(po.protocol, `${at}.protocol`), port, targetPort };
    if (po.nodePort !== undefined && po.nodePort !== 0 && (type === 'NodePort' || type === 'LoadBalancer'))
      sp.nodePort = r.port(po.nodePort, `${at}.nodePort`);
    if (needsNodePort && sp.nodePort === undefined) r.fail(`${at}.nodePort`, `a ${type} Service needs a nodePort`);
    return sp;
  });
  const policies = ['Cluster', 'Local'] as const;
  const affinity = r.oneOf(spec.sessionAffinity, 'spec.sessionAffinity', ['None', 'ClientIP'] as const, 'None');
  const sac = r.obj(spec.sessionAffinityConfig ?? {}, 'spec.sessionAffinityConfig');
  const cip = r.obj(sac.clientIP ?? {}, 'spec.sessionAffinityConfig.clientIP');
  const seconds =
    cip.timeoutSeconds === undefined
      ? 10800
      : r.int(
          cip.timeoutSeconds,
          'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
          1,
          86400,
          'a number of seconds',
        );
  const status = r.obj(o.status ?? {}, 'status');
  const lb = r.obj(status.loadBalancer ?? {}, 'status.loadBalancer');
  const ranges = r.list(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges').flatMap((c, i) => {
    const at = `spec.loadBalancerSourceRanges[${i}]`;
    // the API server trims surrounding spaces (ValidateLoadBalancerSourceRanges)
    const s = r.str(c, at).trim();
    if (s.includes(':')) {
      r.ignore(at, `${showValue(s)} is IPv6: nfconform models IPv4 only, so it is left out`);
      return [];
    }
    const got = readCidr(s);
    if ('problem' in got) r.fail(at, got.problem);
    return [got.text];
  });
  const lbIPs = r.list(lb.ingress, 'status.loadBalancer.ingress').flatMap((g, i) => {
    const at = `status.loadBalancer.ingress[${i}]`;
    const ing = r.obj(g, at);
    if (ing.ip === undefined) return [];
    const mode = r.oneOf(ing.ipMode, `${at}.ipMode`, ['VIP', 'Proxy'] as const, 'VIP');
    const ips = r.ipv4s([ing.ip], `${at}.ip`);
    // ipMode Proxy: the load balancer proxies to the nodes; kube-proxy programs nothing for the IP
    return mode === 'Proxy' ? [] : ips;
  });
  const externalTrafficPolicy = r.oneOf(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', policies, 'Cluster');
  const svc: Service = {
    namespace,
    name,
    type,
    ports: type === 'ExternalName' ? [] : ports,
    sessionAffinity: affinity,
    affinitySeconds: seconds,
    externalTrafficPolicy,
    internalTrafficPolicy: r.oneOf(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', policies, 'Cluster'),
    loadBalancerIPs: type === 'LoadBalancer' ? lbIPs : [],
    loadBalancerSourceRanges: ranges,
    externalIPs: r.ipv4s(spec.externalIPs, 'spec.externalIPs'),
  };
  if (type === 'LoadBalancer' && externalTrafficPolicy === 'Local' && spec.healthCheckNodePort !== undefined)
    svc.healthCheckNodePort = r.port(spec.healthCheckNodePort, 'spec.healthCheckNodePort');
  if (clusterIP !== undefined) svc.clusterIP = clusterIP;
  return svc;
}

function readSlice(r: Reader, o: Json): EndpointSlice | undefined {
  const { meta, namespace, name } = readMeta(r, o, 'EndpointSlice', dns1123Subdomain);
  const labels = r.obj(meta.labels ?? {}, 'metadata.labels');
  const service = r.name(
    labels['kubernetes.io/service-name'],
    'metadata.labels["kubernetes.io/service-name"]',
    labelValue,
  );
  // kube-proxy's IPv4 proxier reads IPv4 slices only; IPv6 and FQDN ones belong elsewhere
  const family = r.oneOf(o.addressType, 'addressType', ['IPv4', 'IPv6', 'FQDN'] as const, 'IPv4');
  if (family !== 'IPv4') {
    r.ignore('addressType', `${family} slices are not read: nfconform models IPv4 only`);
    return undefined;
  }
  const ports = r.list(o.ports, 'ports').map((p, i) => {
    const po = r.obj(p, `ports[${i}]`);
    return {
      name: po.name === undefined || po.name === '' ? '' : r.name(po.name, `ports[${i}].name`, dns1123Label),
      port: r.port(po.port, `ports[${i}].port`),
      protocol: r.protocol(po.protocol, `ports[${i}].protocol`),
    };
  });
  const endpoints = r.list(o.endpoints, 'endpoints').flatMap((e, i): Endpoint[] => {
    const at = `endpoints[${i}]`;
    const eo = r.obj(e, at);
    const cond = r.obj(eo.conditions ?? {}, `${at}.conditions`);
    const flag = (k: string, dflt: boolean) => {
      const v = cond[k];
      if (v !== undefined && v !== null && typeof v !== 'boolean')
        r.fail(`${at}.conditions.${k}`, `must be true or false, not ${showValue(v)}`);
      return typeof v === 'boolean' ? v : dflt;
    };
    const addresses = r.list(eo.addresses, `${at}.addresses`);
    // kube-proxy uses an endpoint's first address only (the API allows exactly one for IPv4 slices)
    if (addresses.length === 0) return [];
    const ep: Endpoint = {
      ip: r.ip(addresses[0], `${at}.addresses[0]`),
      // unset conditions count as true, terminating as false (pkg/proxy endpointslicecache)
      ready: flag('ready', true),
      serving: flag('serving', true),
      terminating: flag('terminating', false),
    };
    if (eo.nodeName !== undefined) ep.nodeName = r.name(eo.nodeName, `${at}.nodeName`, dns1123Subdomain);
    if (eo.hints !== undefined) {
      const h = r.obj(eo.hints, `${at}.hints`);
      const names = (k: string, rule: (s: string) => string | undefined) =>
        r
          .list(h[k], `${at}.hints.${k}`)
          .map((z, j) => r.name(r.obj(z, `${at}.hints.${k}[${j}]`).name, `${at}.hints.${k}[${j}].name`, rule));
      if (h.forZones !== undefined) ep.zoneHints = names('forZones', labelValue);
      if (h.forNodes !== undefined) ep.nodeHints = names('forNodes', dns1123Subdomain);
    }
    return [ep];
  });
  return { namespace, name, service, ports, endpoints };
}

export interface ReadOptions {
  /** the first invalid object is an input error (case files); otherwise it is skipped with a warning */
  strict?: boolean;
}

/** Reads a `kubectl ... -o json` List (or a single object); other kinds are ignored. */
export function readCluster(text: string, file = '<services>', opts: ReadOptions = {}): ReadCluster {
  // depth-capped (nothing recursive below meets a deeply nested value), syntax errors at their line:col
  const raw = parseJson(text, file, 'the Services file');
  const at = (path: (string | number)[]) => jsonPosition(text, path);
  const top = new Reader();
  let items: unknown[];
  try {
    const root = top.obj(raw, 'the document');
    items = root.kind === 'List' || Array.isArray(root.items) ? top.list(root.items, 'items') : [root];
  } catch (e) {
    if (e instanceof ObjectProblem)
      throw new InputError('invalid', e.message, { file, ...at(parseFieldPath(e.field)) });
    throw e;
  }
  const out: ReadCluster = { services: [], slices: [], warnings: [] };
  const names = new Set<string>();
  items.forEach((it, i) => {
    const r = new Reader();
    r.object = `items[${i}]`;
    try {
      const o = r.obj(it, `items[${i}]`);
      if (o.kind === 'Service') {
        const s = readService(r, o);
        const key = `Service ${s.namespace}/${s.name}`;
        if (names.has(key))
          r.fail('metadata.name', 'a second Service of this name (the API server keeps one per name)');
        names.add(key);
        out.services.push(s);
      } else if (o.kind === 'EndpointSlice') {
        const s = readSlice(r, o);
        if (s) {
          const key = `EndpointSlice ${s.namespace}/${s.name}`;
          if (names.has(key)) r.fail('metadata.name', 'a second EndpointSlice of this name');
          names.add(key);
          out.slices.push(s);
        }
      }
      out.warnings.push(...r.ignored);
    } catch (e) {
      if (!(e instanceof ObjectProblem)) throw e;
      const object = e.object === `items[${i}]` ? e.object : `${e.object} (items[${i}])`;
      if (opts.strict)
        throw new InputError('invalid', `${object}: ${e.field}: ${e.reason}`, {
          file,
          ...at(['items', i, ...parseFieldPath(e.field)]),
        });
      out.warnings.push({ object, field: e.field, reason: e.reason, skipped: true });
    }
  });
  return out;
}

/** One line per warning, for the command line. */
export function formatObjectWarning(w: ObjectWarning): string {
  return `${w.object}: ${w.field}: ${w.reason}${w.skipped ? ' (the object is skipped)' : ''}`;
}
