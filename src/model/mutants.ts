// Model mutants: deliberately wrong readings of netfilter, each a copy of the kernel's semantics
// (semantics.ts) with one decision replaced. They measure whether a campaign notices a wrong model
// (`npm run mutants -- --model`) and plant a bug for the engine's own tests (test/unit/fuzz-planted).
import { selectSource } from './net/routing.ts';
import { KERNEL, type Semantics } from './semantics.ts';

export interface ModelMutant {
  /** the misreading, in one sentence */
  description: string;
  semantics: Semantics;
}

const MUTANTS = {
  'masquerade-first-address': {
    description: 'MASQUERADE takes the address of eth0 instead of the outgoing interface',
    semantics: { ...KERNEL, masqueradeSource: (h, _outIf, nextHop) => selectSource(h, 'eth0', nextHop) },
  },
} satisfies Record<string, ModelMutant>;

export type Mutation = keyof typeof MUTANTS;
export const MUTATIONS = Object.keys(MUTANTS) as Mutation[];

export function modelMutant(name: Mutation): ModelMutant {
  return MUTANTS[name];
}
