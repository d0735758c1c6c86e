// `nfconform compile`: Services and EndpointSlices to a node's kube-proxy-shaped ruleset.
import { parseArgs } from 'node:util';
import { InputError } from '../model/index.ts';
import { readCluster } from '../kube/objects.ts';
import { compileNode } from '../kube/compile.ts';
import { readText } from './load.ts';

export const COMPILE_USAGE =
  'usage: nfconform compile --services FILE --node NAME [--cluster-cidr CIDR] [--masquerade-all] [--nodeport-address IP ...] [--localhost-nodeports]   (kubectl get svc,endpointslices -A -o json)';

export function compileCommand(argv: string[], write: (s: string) => void): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      services: { type: 'string' },
      node: { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'masquerade-all': { type: 'boolean', default: false },
      'nodeport-address': { type: 'string', multiple: true, default: [] },
      'localhost-nodeports': { type: 'boolean', default: false },
    },
  });
  if (!values.services || !values.node)
    throw new InputError('syntax', COMPILE_USAGE, { file: '<command line>', line: 1, col: 1 });
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
