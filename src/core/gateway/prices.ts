/**
 * @module prices
 * What a model request costs, in US dollars, from the token counts the Messages API reports.
 *
 * Source: Anthropic's public pricing (https://www.anthropic.com/pricing and the model pricing table
 * at https://docs.claude.com/en/docs/about-claude/pricing), as listed 2026-11. Prices are USD per
 * million tokens. A cache write with the default 5-minute lifetime costs 1.25× the input price, a
 * 1-hour cache write 2×, and a cache read 0.1×.
 *
 * | family | input | output |
 * |---|---|---|
 * | Opus 4.5 and later (`claude-opus-4-5`, `claude-opus-4-6`, …) | $5 | $25 |
 * | Opus 4 / 4.1 (`claude-opus-4-0`, `claude-opus-4-20250514`, `claude-opus-4-1`) | $15 | $75 |
 * | Sonnet 4.x (`claude-sonnet-4-0`, `claude-sonnet-4-5`, …) | $3 | $15 |
 * | Haiku 4.5 and later 4.x (`claude-haiku-4-5`) | $1 | $5 |
 * | Haiku 3.5 (`claude-3-5-haiku-20241022`, `claude-3-5-haiku-latest`) | $0.80 | $4 |
 * | Haiku 3 (`claude-3-haiku-20240307`) | $0.25 | $1.25 |
 *
 * The aliases `opus`, `sonnet` and `haiku` (as `claude --model` accepts them) are priced as the
 * current model of their family: Opus 4.5, Sonnet 4.5, Haiku 4.5. Ids may carry a date
 * (`-20251001`), a `-latest` suffix, a cloud prefix (`anthropic.`, `us.anthropic.`), a Vertex
 * `@date` or a Bedrock `-v1:0` tail. A Claude model of a newer version than the table lists
 * (`claude-haiku-5-5`, which the pinned claude CLI sends for `--model haiku`) is priced as the
 * newest listed model of its family, an estimate that keeps budgets working until the table lists
 * it. Any other model, including older Claude models not listed here, has no price: its cost is
 * `null`, the usage tables count it as unpriced, and budgets do not count it. The long-context
 * surcharge (input beyond 200k tokens on a 1M-context request) is not modelled.
 *
 * When Anthropic changes its prices, update the table and the date above.
 */

/** Prices of one model in USD per million tokens. */
export interface ModelPrice {
  /** Uncached input tokens. */
  input: number;
  /** Output tokens (thinking included). */
  output: number;
  /** Tokens written to the prompt cache with the default 5-minute lifetime (1.25× input). */
  cacheWrite: number;
  /** Tokens written to the prompt cache with a 1-hour lifetime (2× input). */
  cacheWrite1h: number;
  /** Tokens read from the prompt cache (0.1× input). */
  cacheRead: number;
}

/** The token counts of one request, as the columns of `model_requests` hold them. */
export interface TokenUsage {
  /** Uncached input tokens (the API's `input_tokens`). */
  input_tokens: number;
  output_tokens: number;
  /** All cache-write tokens (the API's `cache_creation_input_tokens`), both lifetimes. */
  cache_write_tokens: number;
  cache_read_tokens: number;
  /** The part of `cache_write_tokens` written with a 1-hour lifetime (priced at 2× input); absent = 0. */
  cache_write_1h_tokens?: number;
}

/** A model family the hive prices. */
export type ModelFamily = 'opus' | 'sonnet' | 'haiku';

const price = (input: number, output: number): ModelPrice => ({
  input,
  output,
  cacheWrite: input * 1.25,
  cacheWrite1h: input * 2,
  cacheRead: input * 0.1,
});

const OPUS_45 = price(5, 25);
const OPUS_4 = price(15, 75);
const SONNET_4 = price(3, 15);
const HAIKU_45 = price(1, 5);
const HAIKU_35 = price(0.8, 4);
const HAIKU_3 = price(0.25, 1.25);

/** What `claude --model <alias>` means today, for pricing an alias sent as is. */
const ALIASES: Record<ModelFamily, ModelPrice> = { opus: OPUS_45, sonnet: SONNET_4, haiku: HAIKU_45 };

/** `claude-<family>-<major>[-<minor>]…`: the naming used since the Claude 4 models. */
const NEW_STYLE = /^claude-(opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?=$|[-@:])/;
/** `claude-<major>[-<minor>]-<family>…`: the naming of the Claude 3 models. */
const OLD_STYLE = /^claude-(\d+)(?:-(\d{1,2}))?-(opus|sonnet|haiku)(?=$|[-@:])/;

interface ParsedModel {
  family: ModelFamily;
  major: number;
  minor: number;
}

/** Strips cloud prefixes (`anthropic.`, `us.anthropic.`) and lower-cases the id. */
function normalise(model: string): string {
  const m = model.trim().toLowerCase();
  const at = m.indexOf('claude-');
  return at > 0 && /^[a-z.-]*\.$/.test(m.slice(0, at)) ? m.slice(at) : m;
}

/** Family and version of a Claude model id, or null when the id is not one. */
function parse(model: string): ParsedModel | null {
  const id = normalise(model);
  let m = NEW_STYLE.exec(id);
  if (m) return { family: m[1] as ModelFamily, major: Number(m[2]), minor: Number(m[3] ?? 0) };
  m = OLD_STYLE.exec(id);
  if (m) return { family: m[3] as ModelFamily, major: Number(m[1]), minor: Number(m[2] ?? 0) };
  return null;
}

/**
 * The family of a model id or alias (`claude-haiku-4-5-20251001` → `haiku`, `sonnet` → `sonnet`),
 * or null when it is not a Claude model id. Never throws.
 */
export function familyOf(model: string): ModelFamily | null {
  const id = normalise(model);
  if (id in ALIASES) return id as ModelFamily;
  return parse(id)?.family ?? null;
}

/**
 * The price of `model` (an API model id or an alias), or null when the table has none. Never throws.
 */
export function priceOf(model: string): ModelPrice | null {
  const id = normalise(model);
  if (id in ALIASES) return ALIASES[id as ModelFamily];
  const p = parse(id);
  if (!p) return null;
  const v = p.major * 100 + p.minor;
  switch (p.family) {
    case 'opus':
      if (p.major > 4) return OPUS_45; // newer than the table: the newest listed (see the module comment)
      if (p.major !== 4) return null;
      return v >= 405 ? OPUS_45 : OPUS_4;
    case 'sonnet':
      return p.major >= 4 ? SONNET_4 : null;
    case 'haiku':
      if (p.major > 4) return HAIKU_45;
      if (p.major === 4) return v >= 405 ? HAIKU_45 : null;
      if (v === 305) return HAIKU_35;
      if (v === 300) return HAIKU_3;
      return null;
  }
}

/**
 * The cost in USD of one request to `model` with the given token counts. 0 when no tokens were
 * counted (a refused or failed request costs nothing, whatever its model); null when tokens were
 * counted but the model has no price. Never throws.
 */
export function costOf(model: string | null, usage: TokenUsage): number | null {
  const { input_tokens, output_tokens, cache_write_tokens, cache_read_tokens } = usage;
  if (input_tokens + output_tokens + cache_write_tokens + cache_read_tokens === 0) return 0;
  const p = model ? priceOf(model) : null;
  if (!p) return null;
  const write1h = Math.min(usage.cache_write_1h_tokens ?? 0, cache_write_tokens);
  return (
    (input_tokens * p.input +
      output_tokens * p.output +
      (cache_write_tokens - write1h) * p.cacheWrite +
      write1h * p.cacheWrite1h +
      cache_read_tokens * p.cacheRead) /
    1_000_000
  );
}
