import type { LlamaContextSequence, Token } from "node-llama-cpp";

/**
 * log p(tokens[i] | BOS, tokens[<i]) for every text token (natural log). The first token is
 * conditioned on BOS; a model without BOS gives no probability for its first token, so the list
 * then starts at the second. With `from` > 0, only tokens at index > `from` of BOS + tokens are
 * scored (the ones before are context): the list starts with log p(all[from + 1] | all[≤ from]).
 */
export async function tokenLogProbs(sequence: LlamaContextSequence, bos: readonly Token[], tokens: readonly Token[], from = 0): Promise<number[]> {
  const all = [...bos, ...tokens];
  if (all.length < 2 || from + 1 >= all.length) return [];
  await sequence.clearHistory();
  // Full-vocabulary raw logits per position: a filtered request (target + max) was seen to give
  // wrong values in 3.22.1, so the log-softmax is computed here from every logit.
  const input = all.map((token, i) => (i >= from && i + 1 < all.length ? ([token, { generateNext: { logits: true } }] as [Token, { generateNext: { logits: true } }]) : token));
  const out = await sequence.controlledEvaluate(input);
  const logProbs: number[] = [];
  for (let i = from; i + 1 < all.length; i++) {
    const logits = out[i]?.next.logits;
    const target = all[i + 1] as Token;
    if (!logits) throw new Error(`node-llama-cpp returned no logits for position ${i}`);
    const logit = logits.get(target);
    if (logit === undefined) throw new Error(`node-llama-cpp returned no logit for token ${target}`);
    logProbs.push(logit - logNormalizer(logits.values()));
  }
  return logProbs;
}

/** log Σ exp(logit) over a full vocabulary, computed stably: a token's log-probability is its logit minus this. */
export function logNormalizer(logits: Iterable<number>): number {
  const values = [...logits];
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
