// Small clusters (kubectl get svc,endpointslices -o json) the compiler tests share.
import { readCluster } from '../../src/kube/objects.ts';

/** One SCTP ClusterIP Service (telco/sig, 10.96.0.50:2905) with one ready endpoint on the node. */
export const sctpCluster = () =>
  readCluster(
    JSON.stringify({
      kind: 'List',
      items: [
        {
          kind: 'Service',
          metadata: { namespace: 'telco', name: 'sig' },
          spec: { clusterIP: '10.96.0.50', ports: [{ name: 's', protocol: 'SCTP', port: 2905, targetPort: 2905 }] },
        },
        {
          kind: 'EndpointSlice',
          metadata: { namespace: 'telco', name: 'sig-1', labels: { 'kubernetes.io/service-name': 'sig' } },
          ports: [{ name: 's', port: 2905, protocol: 'SCTP' }],
          endpoints: [{ addresses: ['10.244.1.11'], conditions: { ready: true }, nodeName: 'node' }],
        },
      ],
    }),
  );
