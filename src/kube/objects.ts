// Services and EndpointSlices as `kubectl get svc,endpointslices -A -o json` prints them,
// reduced to the fields that decide what kube-proxy programs. Invalid objects get an
// error that names the object and the field.
import { InputError } from '../model/index.ts';
import { parseIp, parseCidr } from '../model/index.ts';

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
  /** undefined for headless and ExternalName */
  clusterIP?: string;
  ports: ServicePort[];
  sessionAffinity: 'None' | 'ClientIP';
  affinitySeconds: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
  internalTrafficPolicy: 'Cluster' | 'Local';
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  externalIPs: string[];
}

export interface Endpoint {
  ip: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
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

type Json = Record<string, unknown>;

class Reader {
  constructor(private readonly file: string) {}
  fail(where: string, reason: string): never {
    throw new InputError('invalid', `${where}: ${reason}`, { file: this.file, line: 1, col: 1 });
  }
  obj(v: unknown, where: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(where, 'must be an object');
    return v as Json;
  }
  str(v: unknown, where: string, optional = false): string | undefined {
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(where, 'must be a non-empty string');
    return v;
  }
  port(v: unknown, where: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
      this.fail(where, `must be a port 1-65535, not ${JSON.stringify(v)}`);
    return v;
  }
  ip(v: unknown, where: string): string {
    const s = this.str(v, where)!;
    if (parseIp(s) === undefined) this.fail(where, `"${s}" is not an IPv4 address (IPv4 only)`);
    return s;
  }
  list(v: unknown, where: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(where, 'must be a list');
    return v;
  }
  protocol(v: unknown, where: string): Protocol {
    const p = v ?? 'TCP';
    if (p !== 'TCP' && p !== 'UDP' && p !== 'SCTP')
      this.fail(where, `must be TCP, UDP or SCTP, not ${JSON.stringify(p)}`);
    return p;
  }
}

/** An object's metadata: namespace (default "default"), name, and a prefix for errors about its fields. */
function readMeta(
  r: Reader,
  o: Json,
  kind: string,
): { meta: Json; namespace: string; name: string; at: (field: string) => string } {
  const meta = r.obj(o.metadata, `${kind} metadata`);
  const namespace = r.str(meta.namespace, `${kind} metadata.namespace`, true) ?? 'default';
  const name = r.str(meta.name, `${kind} metadata.name`)!;
  return { meta, namespace, name, at: (f: string) => `${kind} ${namespace}/${name}: ${f}` };
}

function readService(r: Reader, o: Json): Service {
  const { namespace, name, at } = readMeta(r, o, 'Service');
  const spec = r.obj(o.spec, at('spec'));
  const type = (spec.type ?? 'ClusterIP') as ServiceType;
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(type))
    r.fail(at('spec.type'), `unknown type ${JSON.stringify(type)}`);
  let clusterIP: string | undefined;
  if (type !== 'ExternalName' && spec.clusterIP !== 'None') clusterIP = r.ip(spec.clusterIP, at('spec.clusterIP'));
  const ports = r.list(spec.ports, at('spec.ports')).map((p, i): ServicePort => {
    const po = r.obj(p, at(`spec.ports[${i}]`));
    const port = r.port(po.port, at(`spec.ports[${i}].port`));
    const tp = po.targetPort ?? port;
    const targetPort = typeof tp === 'string' ? tp : r.port(tp, at(`spec.ports[${i}].targetPort`));
    const sp: ServicePort = {
      name: typeof po.name === 'string' ? po.name : '',
      protocol: r.protocol(po.protocol, at(`spec.ports[${i}].protocol`)),
      port,
      targetPort,
    };
    if (po.nodePort !== undefined) sp.nodePort = r.port(po.nodePort, at(`spec.ports[${i}].nodePort`));
    if ((type === 'NodePort' || type === 'LoadBalancer') && sp.nodePort === undefined)
      r.fail(at(`spec.ports[${i}].nodePort`), `a ${type} Service needs a nodePort`);
    return sp;
  });
  const policy = (v: unknown, f: string): 'Cluster' | 'Local' => {
    const p = v ?? 'Cluster';
    if (p !== 'Cluster' && p !== 'Local') r.fail(at(f), `must be Cluster or Local, not ${JSON.stringify(p)}`);
    return p;
  };
  const affinity = spec.sessionAffinity ?? 'None';
  if (affinity !== 'None' && affinity !== 'ClientIP') r.fail(at('spec.sessionAffinity'), 'must be None or ClientIP');
  const seconds = (r.obj(
    r.obj(spec.sessionAffinityConfig ?? {}, at('spec.sessionAffinityConfig')).clientIP ?? {},
    at('spec.sessionAffinityConfig.clientIP'),
  ).timeoutSeconds ?? 10800) as number;
  const status = r.obj(o.status ?? {}, at('status'));
  const lb = r.obj(status.loadBalancer ?? {}, at('status.loadBalancer'));
  const ranges = r.list(spec.loadBalancerSourceRanges, at('spec.loadBalancerSourceRanges')).map((c, i) => {
    const s = r.str(c, at(`spec.loadBalancerSourceRanges[${i}]`))!;
    if (!parseCidr(s)) r.fail(at(`spec.loadBalancerSourceRanges[${i}]`), `"${s}" is not an IPv4 CIDR`);
    return s;
  });
  const svc: Service = {
    namespace,
    name,
    type,
    ports,
    sessionAffinity: affinity as 'None' | 'ClientIP',
    affinitySeconds: seconds,
    externalTrafficPolicy: policy(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy'),
    internalTrafficPolicy: policy(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy'),
    loadBalancerIPs: r.list(lb.ingress, at('status.loadBalancer.ingress')).flatMap((g, i) => {
      const ing = r.obj(g, at(`status.loadBalancer.ingress[${i}]`));
      return ing.ip === undefined ? [] : [r.ip(ing.ip, at(`status.loadBalancer.ingress[${i}].ip`))];
    }),
    loadBalancerSourceRanges: ranges,
    externalIPs: r.list(spec.externalIPs, at('spec.externalIPs')).map((x, i) => r.ip(x, at(`spec.externalIPs[${i}]`))),
  };
  if (clusterIP !== undefined) svc.clusterIP = clusterIP;
  return svc;
}

function readSlice(r: Reader, o: Json): EndpointSlice {
  const { meta, namespace, name, at } = readMeta(r, o, 'EndpointSlice');
  const labels = r.obj(meta.labels ?? {}, at('metadata.labels'));
  const service = r.str(labels['kubernetes.io/service-name'], at('metadata.labels["kubernetes.io/service-name"]'))!;
  if (o.addressType !== undefined && o.addressType !== 'IPv4')
    r.fail(at('addressType'), `only IPv4 is supported, not ${JSON.stringify(o.addressType)}`);
  const ports = r.list(o.ports, at('ports')).map((p, i) => {
    const po = r.obj(p, at(`ports[${i}]`));
    return {
      name: typeof po.name === 'string' ? po.name : '',
      port: r.port(po.port, at(`ports[${i}].port`)),
      protocol: r.protocol(po.protocol, at(`ports[${i}].protocol`)),
    };
  });
  const endpoints = r.list(o.endpoints, at('endpoints')).flatMap((e, i) => {
    const eo = r.obj(e, at(`endpoints[${i}]`));
    const cond = r.obj(eo.conditions ?? {}, at(`endpoints[${i}].conditions`));
    const ready = cond.ready !== false;
    return r.list(eo.addresses, at(`endpoints[${i}].addresses`)).map((a, j): Endpoint => {
      const ep: Endpoint = {
        ip: r.ip(a, at(`endpoints[${i}].addresses[${j}]`)),
        ready,
        serving: cond.serving === undefined ? ready : cond.serving === true,
        terminating: cond.terminating === true,
      };
      if (typeof eo.nodeName === 'string') ep.nodeName = eo.nodeName;
      return ep;
    });
  });
  return { namespace, name, service, ports, endpoints };
}

/** Reads a `kubectl ... -o json` List (or a single object); other kinds are ignored. */
export function readCluster(text: string, file = '<services>'): Cluster {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError('syntax', `not valid JSON: ${(e as Error).message}`, { file, line: 1, col: 1 });
  }
  const r = new Reader(file);
  const root = r.obj(raw, 'the document');
  const items = root.kind === 'List' || Array.isArray(root.items) ? r.list(root.items, 'items') : [root];
  const out: Cluster = { services: [], slices: [] };
  items.forEach((it, i) => {
    const o = r.obj(it, `items[${i}]`);
    if (o.kind === 'Service') out.services.push(readService(r, o));
    else if (o.kind === 'EndpointSlice') out.slices.push(readSlice(r, o));
  });
  return out;
}
