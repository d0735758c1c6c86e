// A persistent map with string keys (a hash array mapped trie, 32 ways a level): `set` and `delete` return a new
// map that shares all but one path with the old one, so copying a map is free. The conntrack table uses it: a
// probe copies the world once per branch, and copying a Map of n entries made n repeated probes cost O(n^2)
// (issue 17).

interface Leaf<V> {
  readonly h: number;
  readonly k: string;
  readonly v: V;
}
/** keys whose 32-bit hashes are equal, below the last level */
interface Bucket<V> {
  readonly h: number;
  readonly all: readonly Leaf<V>[];
}
interface Branch<V> {
  readonly bits: number;
  readonly kids: readonly Node<V>[];
}
type Node<V> = Leaf<V> | Bucket<V> | Branch<V>;

const isBranch = <V>(n: Node<V>): n is Branch<V> => 'kids' in n;
const isBucket = <V>(n: Node<V>): n is Bucket<V> => 'all' in n;

function hashOf(s: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

function leafGet<V>(n: Node<V>, k: string): V | undefined {
  if (isBucket(n)) return n.all.find((l) => l.k === k)?.v;
  return (n as Leaf<V>).k === k ? (n as Leaf<V>).v : undefined;
}

/** Two leaves (or buckets) with different keys under one new node at `shift`. */
function join<V>(a: Leaf<V> | Bucket<V>, b: Leaf<V>, shift: number): Node<V> {
  if (a.h === b.h) {
    const all = isBucket(a) ? [...a.all, b] : [a as Leaf<V>, b];
    return { h: b.h, all };
  }
  const ia = (a.h >>> shift) & 31;
  const ib = (b.h >>> shift) & 31;
  if (ia === ib) return { bits: 1 << ia, kids: [join(a, b, shift + 5)] };
  return { bits: (1 << ia) | (1 << ib), kids: ia < ib ? [a, b] : [b, a] };
}

function setIn<V>(n: Node<V>, leaf: Leaf<V>, shift: number): { node: Node<V>; added: boolean } {
  if (isBranch(n)) {
    const bit = 1 << ((leaf.h >>> shift) & 31);
    const at = popcount(n.bits & (bit - 1));
    const kids = n.kids.slice();
    if (!(n.bits & bit)) {
      kids.splice(at, 0, leaf);
      return { node: { bits: n.bits | bit, kids }, added: true };
    }
    const r = setIn(kids[at]!, leaf, shift + 5);
    kids[at] = r.node;
    return { node: { bits: n.bits, kids }, added: r.added };
  }
  if (isBucket(n) && n.h === leaf.h) {
    const i = n.all.findIndex((l) => l.k === leaf.k);
    const all = n.all.slice();
    if (i >= 0) all[i] = leaf;
    else all.push(leaf);
    return { node: { h: n.h, all }, added: i < 0 };
  }
  if (!isBucket(n) && (n as Leaf<V>).k === leaf.k) return { node: leaf, added: false };
  return { node: join(n as Leaf<V> | Bucket<V>, leaf, shift), added: true };
}

function deleteIn<V>(n: Node<V>, h: number, k: string, shift: number): Node<V> | null | undefined {
  // undefined: not there (unchanged); null: the node is gone
  if (isBranch(n)) {
    const bit = 1 << ((h >>> shift) & 31);
    if (!(n.bits & bit)) return undefined;
    const at = popcount(n.bits & (bit - 1));
    const r = deleteIn(n.kids[at]!, h, k, shift + 5);
    if (r === undefined) return undefined;
    const kids = n.kids.slice();
    if (r === null) kids.splice(at, 1);
    else kids[at] = r;
    if (!kids.length) return null;
    // a branch left with one leaf becomes that leaf (keeps paths short)
    if (kids.length === 1 && !isBranch(kids[0]!)) return kids[0]!;
    return { bits: r === null ? n.bits & ~bit : n.bits, kids };
  }
  if (isBucket(n)) {
    if (n.h !== h || !n.all.some((l) => l.k === k)) return undefined;
    const all = n.all.filter((l) => l.k !== k);
    return all.length === 1 ? all[0]! : { h, all };
  }
  return n.k === k ? null : undefined;
}

function* valuesOf<V>(n: Node<V>): Generator<V> {
  if (isBranch(n)) for (const c of n.kids) yield* valuesOf(c);
  else if (isBucket(n)) for (const l of n.all) yield l.v;
  else yield n.v;
}

export class PMap<V> {
  private constructor(
    private readonly root: Node<V> | null,
    readonly size: number,
  ) {}

  static empty<V>(): PMap<V> {
    return new PMap<V>(null, 0);
  }

  get(k: string): V | undefined {
    const h = hashOf(k);
    let n = this.root;
    for (let shift = 0; n && isBranch(n); shift += 5) {
      const bit = 1 << ((h >>> shift) & 31);
      if (!(n.bits & bit)) return undefined;
      n = n.kids[popcount(n.bits & (bit - 1))]!;
    }
    return n ? leafGet(n, k) : undefined;
  }

  has(k: string): boolean {
    return this.get(k) !== undefined;
  }

  set(k: string, v: V): PMap<V> {
    const leaf: Leaf<V> = { h: hashOf(k), k, v };
    if (!this.root) return new PMap(leaf, 1);
    const r = setIn(this.root, leaf, 0);
    return new PMap(r.node, this.size + (r.added ? 1 : 0));
  }

  delete(k: string): PMap<V> {
    if (!this.root) return this;
    const r = deleteIn(this.root, hashOf(k), k, 0);
    if (r === undefined) return this;
    return new PMap(r, this.size - 1);
  }

  *values(): Generator<V> {
    if (this.root) yield* valuesOf(this.root);
  }
}
