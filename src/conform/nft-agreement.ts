// The nft parser judged by real nft: generated rulesets, loaded by both, accepted or refused alike and,
// when accepted, listed alike (spec/nft.md §6). Rulesets the model reports as unsupported are counted
// apart: they are outside the subset, neither agreement nor disagreement.
import fc from 'fast-check';
import { parseNft, printNft, InputError } from '../model/index.ts';
import { judgeNft } from '../lab/nft-judge.ts';
import { nftRulesetText } from './nft-arbitraries.ts';

export type NftAgreementKind = 'same-listing' | 'both-refuse' | 'unsupported' | 'accept-differs' | 'listing-differs';

export interface NftAgreementCase {
  text: string;
  kind: NftAgreementKind;
  model: string;
  nft: string;
}

export interface NftAgreement {
  total: number;
  counts: Record<NftAgreementKind, number>;
  /** agreeing / (total - unsupported) */
  agreement: number;
  disagreements: NftAgreementCase[];
}

export function nftSamples(n: number, seed: number): string[] {
  return fc.sample(nftRulesetText(), { numRuns: n, seed });
}

export async function nftAgreement(texts: readonly string[], batch = 250): Promise<NftAgreement> {
  const counts: Record<NftAgreementKind, number> = {
    'same-listing': 0,
    'both-refuse': 0,
    unsupported: 0,
    'accept-differs': 0,
    'listing-differs': 0,
  };
  const disagreements: NftAgreementCase[] = [];
  for (let i = 0; i < texts.length; i += batch) {
    const chunk = texts.slice(i, i + batch);
    const verdicts = await judgeNft(chunk);
    chunk.forEach((text, j) => {
      const v = verdicts[j]!;
      let model: string;
      let ok = true;
      let unsupported = false;
      try {
        model = printNft(parseNft(text, { file: 'gen.nft' }));
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        ok = false;
        unsupported = e.kind === 'unsupported';
        model = e.message;
      }
      let kind: NftAgreementKind;
      if (unsupported) kind = 'unsupported';
      else if (ok !== v.ok) kind = 'accept-differs';
      else if (!ok) kind = 'both-refuse';
      else kind = model === v.listing ? 'same-listing' : 'listing-differs';
      counts[kind]++;
      if (kind === 'accept-differs' || kind === 'listing-differs')
        disagreements.push({ text, kind, model, nft: v.ok ? v.listing : v.stderr });
    });
  }
  const decided = texts.length - counts.unsupported;
  const agreeing = counts['same-listing'] + counts['both-refuse'];
  return { total: texts.length, counts, agreement: decided ? agreeing / decided : 0, disagreements };
}
