// `nfconform compile`: Services and EndpointSlices to a node's kube-proxy-shaped ruleset.
import { readCluster } from '../kube/objects.ts';
import { compileNode } from '../kube/compile.ts';
import { readText } from './load.ts';
import { readFlags, cmdline } from './args.ts';

export const COMPILE_USAGE =
  'usage: nfconform compile --services FILE --node NAME [--cluster-cidr CIDR] [--masquerade-all] [--nodeport-address IP ...] [--localhost-nodeports]   (kubectl get svc,endpointslices -A -o json)';

export function compileCommand(argv: string[], write: (s: string) => void): number {
  const { values } = readFlags(argv, {
    services: { type: 'string' },
    node: { type: 'string' },
    'cluster-cidr': { type: 'string' },
    'masquerade-all': { type: 'boolean', default: false },
    'nodeport-address': { type: 'string', multiple: true, default: [] },
    'localhost-nodeports': { type: 'boolean', default: false },
  });
  if (!values.services || !values.node) throw cmdline(COMPILE_USAGE);
  const cluster = readCluster(readText(values.services), values.services);
  write(
    compileNode(cluster, {
      nodeName: values.node,
      masqueradeAll: values['masquerade-all'],
      localhostNodePorts: values['localhost-nodeports'],
      nodePortAddresses: values['nodeport-address'],
      ...(values['cluster-cidr'] ? { clusterCIDR: values['cluster-cidr'] } : {}),
    }),
  );
  return 0;
}
