// What the nft unit tests share: the error parseNft refuses a text with.
import { InputError } from '../../src/model/index.ts';
import { parseNft } from '../../src/model/nft/index.ts';

/** The InputError `parseNft` refuses `text` with (as file t.nft); a test failure when it accepts it. */
export function nftRefusal(text: string): InputError {
  try {
    parseNft(text, { file: 't.nft' });
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('accepted');
}
