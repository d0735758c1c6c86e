// A dropped TCP probe's observation with one conntrack entry on the node, for the judges' unit tests.
import type { Observation } from '../../src/model/index.ts';

export const tcpEntryObservation = (state: string, moves?: string[]): Observation => ({
  outcome: 'dropped',
  responder: null,
  seen: null,
  icmp: null,
  replyFrom: null,
  error: null,
  conntrack: {
    node: [
      {
        proto: 'tcp',
        orig: '192.168.50.20:41000>10.244.1.11:8080',
        reply: '10.244.1.11:8080>192.168.50.20:41000',
        state,
        flags: ['ASSURED'],
        ...(moves ? { moves } : {}),
      },
    ],
  },
  droppedAt: null,
});
