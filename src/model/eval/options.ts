// Typed option values: an option's value has the type of the kind its descriptor names
// (rules/descriptors.ts). The evaluators read values through these, once, when a rule is compiled;
// the kind is checked against the descriptor table, so a wrong reading fails loudly instead of
// being cast silently.
import type { ExtInstance, OptInstance, Rule } from '../rules/types.ts';
import type { KindName, KindValue } from '../rules/kinds.ts';
import { EXTENSIONS } from '../rules/descriptors.ts';

/** "extension\0option" -> the option's kind; options stored under another name use that name's kind */
const KIND_OF = new Map<string, KindName>();
for (const d of EXTENSIONS) for (const o of d.options) if (!o.storeAs) KIND_OF.set(`${d.name}\0${o.name}`, o.kind);

/** The value of one option instance of extension `ext`, as kind `kind`. */
export function valueAs<K extends KindName>(ext: string, o: OptInstance, kind: K): KindValue<K> {
  const declared = KIND_OF.get(`${ext}\0${o.name}`);
  if (declared !== kind)
    throw new Error(`internal: ${ext} ${o.name} holds a ${declared ?? 'unknown'} value, not ${kind}`);
  return o.value as KindValue<K>;
}

/** The value of option `name` of `ext`, if given. */
export function optValue<K extends KindName>(ext: ExtInstance, name: string, kind: K): KindValue<K> | undefined {
  const o = ext.opts.find((x) => x.name === name);
  return o === undefined ? undefined : valueAs(ext.name, o, kind);
}

/** Whether option `name` (a flag, or any option) is given. */
export function hasOpt(ext: ExtInstance, name: string): boolean {
  return ext.opts.some((x) => x.name === name);
}

/** The text of a rule's `-m comment --comment`, if it has one. */
export function ruleComment(r: Rule): string | undefined {
  const m = r.matches.find((x) => x.name === 'comment');
  return m && optValue(m, '--comment', 'string');
}
