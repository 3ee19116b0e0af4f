/**
 * Model facts the server ships: prices (US dollars per million tokens) and context windows of
 * the Anthropic models agentd lists and of OpenAI's common models. These are defaults: config
 * `providers.<id>.models[]` (`price`, `contextWindow`) replaces them per model. A model missing
 * here and in the config has no price (costUsd null) and no known window.
 *
 * Anthropic: cache write is the 5-minute write (1.25x input), cache read 0.1x input. OpenAI
 * charges nothing extra for cache writes (so the input price) and a discounted cached input.
 * claude-opus-4-7 has no shipped price: set it in the config.
 */
import type { ModelPrice, Usage } from '../../protocol/index.js';

export interface ModelFacts {
  price?: ModelPrice;
  contextWindow?: number;
}

const anthropic = (input: number, output: number): ModelFacts => ({
  price: { inputPerMTok: input, outputPerMTok: output, cacheReadPerMTok: input / 10, cacheWritePerMTok: input * 1.25 },
  contextWindow: 200_000,
});
const openai = (input: number, output: number, cached: number, contextWindow: number): ModelFacts => ({
  price: { inputPerMTok: input, outputPerMTok: output, cacheReadPerMTok: cached, cacheWritePerMTok: input },
  contextWindow,
});

/** Shipped defaults by provider id, then model id. */
export const DEFAULT_MODELS: Record<string, Record<string, ModelFacts>> = {
  anthropic: {
    'claude-sonnet-4-6': anthropic(3, 15),
    'claude-opus-4-7': { contextWindow: 200_000 },
    'claude-opus-4-6': anthropic(5, 25),
    'claude-haiku-4-5': anthropic(1, 5),
  },
  openai: {
    'gpt-4.1': openai(2, 8, 0.5, 1_047_576),
    'gpt-4.1-mini': openai(0.4, 1.6, 0.1, 1_047_576),
    'gpt-4.1-nano': openai(0.1, 0.4, 0.025, 1_047_576),
    'gpt-4o': openai(2.5, 10, 1.25, 128_000),
    'gpt-4o-mini': openai(0.15, 0.6, 0.075, 128_000),
    o3: openai(2, 8, 0.5, 200_000),
    'o3-mini': openai(1.1, 4.4, 0.55, 200_000),
    'o4-mini': openai(1.1, 4.4, 0.275, 200_000),
  },
};

/** What the config says of models, per provider (the `providers.<id>.models` lists: an id, or an entry). */
type ConfiguredModels = Array<string | { id: string; price?: ModelPrice; contextWindow?: number }> | undefined;

/** The ids of configured models. */
export const configuredIds = (configured: ConfiguredModels): string[] => (configured ?? []).map((m) => (typeof m === 'string' ? m : m.id));

/** The facts of one model: the config's entry over the shipped default. */
export function modelFacts(providerId: string, model: string, configured: ConfiguredModels): ModelFacts {
  const base = Object.hasOwn(DEFAULT_MODELS, providerId) && Object.hasOwn(DEFAULT_MODELS[providerId], model) ? DEFAULT_MODELS[providerId][model] : {};
  const entry = configured?.find((m) => (typeof m === 'string' ? m : m.id) === model);
  const mine = typeof entry === 'string' ? undefined : entry;
  return { price: mine?.price ?? base.price, contextWindow: mine?.contextWindow ?? base.contextWindow };
}

/** Cost of one call in US dollars; null without a price. Rounded to 1e-9 dollars (no float noise in totals). */
export function costOf(u: Usage, price: ModelPrice | undefined): number | null {
  if (!price) return null;
  const d = (u.inputTokens ?? 0) * price.inputPerMTok
    + (u.outputTokens ?? 0) * price.outputPerMTok
    + (u.cacheReadInputTokens ?? 0) * (price.cacheReadPerMTok ?? price.inputPerMTok)
    + (u.cacheCreationInputTokens ?? 0) * (price.cacheWritePerMTok ?? price.inputPerMTok);
  return round(d / 1e6);
}

export const round = (usd: number) => Math.round(usd * 1e9) / 1e9;

/** a + b, field by field (every field present in the result). */
export function addUsage(a: Usage | undefined, b: Usage | undefined): Required<Usage> {
  return {
    inputTokens: (a?.inputTokens ?? 0) + (b?.inputTokens ?? 0),
    outputTokens: (a?.outputTokens ?? 0) + (b?.outputTokens ?? 0),
    cacheReadInputTokens: (a?.cacheReadInputTokens ?? 0) + (b?.cacheReadInputTokens ?? 0),
    cacheCreationInputTokens: (a?.cacheCreationInputTokens ?? 0) + (b?.cacheCreationInputTokens ?? 0),
  };
}

/** A null cost stays null only while nothing had a price. */
export const addCost = (a: number | null | undefined, b: number | null): number | null =>
  a === null || a === undefined ? b : b === null ? a : round(a + b);

/** Input tokens of a call, cached or not: how much of the context window it used. */
export const contextTokens = (u: Usage | undefined) =>
  (u?.inputTokens ?? 0) + (u?.cacheReadInputTokens ?? 0) + (u?.cacheCreationInputTokens ?? 0);
