// `nfconform compile`: Services and EndpointSlices to a node's kube-proxy-shaped ruleset (iptables-save, or
// with --mode nftables the `kube-proxy` nft table).
import { readCluster, formatObjectWarning } from '../kube/objects.ts';
import type { NodeConfig, LocalDetector } from '../kube/compile.ts';
import { compileNodeIn } from '../kube/proxy-mode.ts';
import { existingFromDump } from '../conform/nft-existing.ts';
import { readText } from './load.ts';
import { readFlags, cmdline, modeChoiceOf } from './args.ts';
import { COMPILE_USAGE } from './usage.ts';

/** kube-proxy's --detect-local-mode and the flag that goes with each mode. */
export function detectorOf(values: {
  'detect-local-mode'?: string | undefined;
  'cluster-cidr'?: string | undefined;
  'pod-cidr'?: string | undefined;
  'pod-bridge-interface'?: string | undefined;
  'pod-interface-name-prefix'?: string | undefined;
}): LocalDetector | undefined | 'none' {
  const mode = values['detect-local-mode'];
  const need = (flag: keyof typeof values, m: string) => {
    const v = values[flag];
    if (!v) throw cmdline(`--detect-local-mode ${m} needs --${flag}`);
    return v;
  };
  switch (mode) {
    case undefined:
      return undefined;
    case 'None':
      return 'none';
    case 'ClusterCIDR':
      return { mode, cidr: need('cluster-cidr', mode) };
    case 'NodeCIDR':
      return { mode, cidr: need('pod-cidr', mode) };
    case 'BridgeInterface':
      return { mode, iface: need('pod-bridge-interface', mode) };
    case 'InterfaceNamePrefix':
      return { mode, prefix: need('pod-interface-name-prefix', mode) };
    default:
      throw cmdline(
        `--detect-local-mode must be ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix` +
          ` or None, not ${JSON.stringify(mode.slice(0, 40))}`,
      );
  }
}

export function compileCommand(argv: string[], write: (s: string) => void): number {
  const { values } = readFlags(argv, {
    services: { type: 'string' },
    node: { type: 'string' },
    'node-ip': { type: 'string', multiple: true, default: [] },
    'cluster-cidr': { type: 'string' },
    'detect-local-mode': { type: 'string' },
    'pod-cidr': { type: 'string' },
    'pod-bridge-interface': { type: 'string' },
    'pod-interface-name-prefix': { type: 'string' },
    'masquerade-all': { type: 'boolean', default: false },
    'nodeport-address': { type: 'string', multiple: true, default: [] },
    'localhost-nodeports': { type: 'boolean', default: false },
    zone: { type: 'string' },
    nfacct: { type: 'boolean', default: false },
    canary: { type: 'boolean', default: false },
    'no-random-fully': { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    mode: { type: 'string' },
    'kube-proxy-version': { type: 'string' },
    existing: { type: 'string' },
  });
  if (!values.services || !values.node) throw cmdline(COMPILE_USAGE);
  const { mode, kubeProxyVersion } = modeChoiceOf(values);
  if (values.existing !== undefined && mode !== 'nftables')
    throw cmdline("--existing is the node's nft state (`nft list ruleset`): it goes with --mode nftables");
  // the node's table before this sync: the output is then the resync kube-proxy would run there (spec/kube.md §2a)
  const existing =
    values.existing === undefined ? undefined : existingFromDump(readText(values.existing), values.existing);
  const detector = detectorOf(values);
  const cluster = readCluster(readText(values.services), values.services);
  for (const w of cluster.warnings.slice(0, 20))
    process.stderr.write(`nfconform compile: warning: ${values.services}: ${formatObjectWarning(w)}\n`);
  if (cluster.warnings.length > 20)
    process.stderr.write(`nfconform compile: warning: ${values.services}: and ${cluster.warnings.length - 20} more\n`);
  const config: NodeConfig = {
    nodeName: values.node,
    nodeIPs: values['node-ip'],
    masqueradeAll: values['masquerade-all'],
    localhostNodePorts: values['localhost-nodeports'],
    nodePortAddresses: values['nodeport-address'],
    nfacct: values.nfacct,
    canary: values.canary,
    randomFully: !values['no-random-fully'],
  };
  if (values.zone !== undefined) config.zone = values.zone;
  if (kubeProxyVersion) config.kubeProxyVersion = kubeProxyVersion;
  if (detector === undefined) {
    if (values['cluster-cidr']) config.clusterCIDR = values['cluster-cidr'];
  } else if (detector !== 'none') config.detectLocal = detector;
  write(compileNodeIn(mode, cluster, config, existing));
  return values.strict && cluster.warnings.length ? 1 : 0;
}
