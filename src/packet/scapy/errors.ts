/**
 * Diagnostics for packet expressions, printed the way nft prints its errors:
 * the message, the expression, and a caret line under the offending token.
 */

/** Stable codes, one per message template (STYLE.md §4). */
export type PacketExpressionErrorCode =
  | 'syntax'
  | 'unterminated-string'
  | 'bad-escape'
  | 'bad-number'
  | 'unknown-layer'
  | 'unknown-field'
  | 'duplicate-field'
  | 'bad-value'
  | 'unsupported';

/** A source range: offsets into the expression text, `end` exclusive. */
export interface SourceLocation {
  start: number;
  end: number;
}

export class PacketExpressionError extends Error {
  override readonly name = 'PacketExpressionError';
  constructor(
    readonly code: PacketExpressionErrorCode,
    message: string,
    readonly location: SourceLocation,
    readonly source: string,
  ) {
    super(message);
  }

  /** "error: …", the expression, and `^^^` under the culprit (as nft does). */
  format(): string {
    const { start, end } = this.location;
    // Show the line holding the error (expressions are usually one line).
    const lineStart = this.source.lastIndexOf('\n', Math.max(0, start - 1)) + 1;
    let lineEnd = this.source.indexOf('\n', start);
    if (lineEnd < 0) lineEnd = this.source.length;
    const line = this.source.slice(lineStart, lineEnd);
    const col = start - lineStart;
    const width = Math.max(1, Math.min(end, lineEnd) - start);
    return `error: ${this.message}\n${line}\n${' '.repeat(col)}${'^'.repeat(width)}`;
  }
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment), so
 * "TPC" is one edit from "TCP", for "did you mean" suggestions.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a small distance, if any (case-insensitive). */
export function suggest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}
