/**
 * nft-shaped diagnostics: a catalog of messages with stable codes, and the
 * rendering nft uses (erec_print in nftables' src/erec.c):
 *
 *   file:line:first-last: Error: message
 *   the source line
 *   ^^^^^   (the culprit; `~~~` marks context)
 *
 * Input given on the command line has no file name; nft then prints
 * `Error: message` with the same source line and marker.
 */
import type { SourceLocation } from '../netfilter/bytecode.js';

/** Stable codes; the templates are nft 1.0.6's wording. */
export const DIAG = {
  SYNTAX: { code: 'NFT001', text: 'syntax error, {0}' },
  UNEXPECTED: { code: 'NFT002', text: 'syntax error, unexpected {0}' },
  UNEXPECTED_EXPECTING: { code: 'NFT003', text: 'syntax error, unexpected {0}, expecting {1}' },
  UNDEFINED_VAR: { code: 'NFT010', text: "unknown identifier '{0}'" },
  BAD_VALUE: { code: 'NFT020', text: 'Could not parse {0}' },
  DATATYPE_MISMATCH: { code: 'NFT021', text: 'datatype mismatch, expected {0}, expression has type {1}' },
  VALUE_TOO_LARGE: { code: 'NFT022', text: 'Value {0} exceeds valid range 0-{1}' },
  UNKNOWN_SET: { code: 'NFT030', text: "Could not process rule: No such file or directory" },
  NO_SUCH_SET: { code: 'NFT031', text: "No such file or directory; did you mean set '{0}' in table {1} '{2}'?" },
  SET_UNKNOWN: { code: 'NFT032', text: "Set '{0}' does not exist" },
  NOT_SUPPORTED: { code: 'NFT040', text: '{0}' },
  CONFLICT: { code: 'NFT041', text: 'conflicting protocols specified: {0} vs. {1}' },
  GENERIC: { code: 'NFT099', text: '{0}' },
} as const;

export type DiagId = keyof typeof DIAG;

export class NftError extends Error {
  readonly code: string;
  constructor(
    readonly id: DiagId,
    readonly args: string[],
    readonly loc: SourceLocation | undefined,
    /** Context locations, underlined with `~`. */
    readonly context: SourceLocation[] = [],
    readonly hint?: string,
  ) {
    super(DIAG[id].text.replace(/\{(\d)\}/g, (_, i: string) => args[Number(i)] ?? ''));
    this.code = DIAG[id].code;
  }
}

/** Renders an error as nft prints it. `sources` maps a file name to its text. */
export function formatError(err: NftError, sources: Map<string, string>): string {
  const loc = err.loc;
  const msg = err.message + (err.hint ? `; did you mean \`${err.hint}\`?` : '');
  if (!loc) return `Error: ${msg}`;
  const src = sources.get(loc.file) ?? '';
  const lineText = src.split('\n')[loc.line - 1] ?? '';
  const where = loc.file === '' || loc.file === '<cmdline>' ? '' : `${loc.file}:${loc.line}:${loc.first}-${loc.last}: `;
  const marks: string[] = [];
  for (const c of err.context) if (c.line === loc.line) for (let i = c.first; i <= c.last; i++) marks[i - 1] = '~';
  for (let i = loc.first; i <= loc.last; i++) marks[i - 1] = '^';
  let marker = '';
  for (let i = 0; i < marks.length; i++) marker += marks[i] ?? ' ';
  return `${where}Error: ${msg}\n${lineText}\n${marker}`;
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The nearest candidate within distance 2 (and less than the word's length), if any. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  return bestD <= 2 && bestD < word.length ? best : undefined;
}
