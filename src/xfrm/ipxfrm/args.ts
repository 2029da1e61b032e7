/**
 * iproute2's command-line machinery, reproduced so `nfx ip xfrm` fails the way
 * `ip xfrm` does: the argv cursor macros of include/utils.h (NEXT_ARG,
 * NEXT_ARG_OK, PREV_ARG), the number parsers of lib/utils.c (get_u32 etc. —
 * strtoul with base 0, so 0x.. is hex and 0.. is octal) and the error helpers
 * (invarg, missarg, duparg, incomplete_command) with their texts and exit
 * statuses (exit(-1) is status 255).
 */

/** Ends a command the way `exit(status)` after an fprintf(stderr) does. */
export class IpExit extends Error {
  override readonly name = 'IpExit';
  constructor(
    readonly stderr: string,
    readonly status: number,
  ) {
    super(stderr.trimEnd());
  }
}

export function invarg(msg: string, arg: string): never {
  throw new IpExit(`Error: argument "${arg}" is wrong: ${msg}\n`, 255);
}
export function missarg(key: string): never {
  throw new IpExit(`Error: argument "${key}" is required\n`, 255);
}
export function duparg(key: string, arg: string): never {
  throw new IpExit(`Error: duplicate "${key}": "${arg}" is the second value.\n`, 255);
}
export function duparg2(key: string, arg: string): never {
  throw new IpExit(`Error: either "${key}" is duplicate, or "${arg}" is garbage.\n`, 255);
}
export function incompleteCommand(): never {
  throw new IpExit('Command line is not complete. Try option "help"\n', 255);
}
/** fprintf(stderr, msg); exit(status). */
export function die(msg: string, status = 1): never {
  throw new IpExit(msg, status);
}

/** The (argc, argv) pair of the C code as one cursor. */
export class Args {
  i = 0;
  constructor(readonly argv: readonly string[]) {}
  /** argc: arguments left, the current one included. */
  get argc(): number {
    return this.argv.length - this.i;
  }
  get cur(): string {
    return this.argv[this.i] ?? '';
  }
  /** NEXT_ARG(). */
  next(): string {
    this.i++;
    if (this.argc <= 0) incompleteCommand();
    return this.cur;
  }
  /** NEXT_ARG_OK(). */
  nextOk(): boolean {
    return this.argc - 1 > 0;
  }
  /** PREV_ARG(). */
  prev(): void {
    this.i--;
  }
  /** argc--; argv++ at the end of a parse loop. */
  advance(): void {
    this.i++;
  }
}

/** matches(): `prefix` is a non-empty prefix of `word`. */
export function matches(prefix: string, word: string): boolean {
  return prefix.length > 0 && word.startsWith(prefix);
}

/**
 * strtoul() on a prefix of `s` (base 0): the value and how many characters
 * it used (0 = no digits), as C's endptr tells.
 */
export function strtoulPrefix(s: string): { value: number; used: number } {
  const m = /^[ \t\n\v\f\r]*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return { value: 0, used: 0 };
  const v = strtoull(m[0], 0);
  return { value: v === null ? Number.POSITIVE_INFINITY : Number(v), used: m[0].length };
}

/** strtoul/strtoull with glibc's rules; null when the whole string is not a number. */
function strtoull(arg: string, base: number): bigint | null {
  let s = arg.replace(/^[ \t\n\v\f\r]+/, '');
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  let b = base;
  if ((b === 0 || b === 16) && /^0[xX][0-9a-fA-F]/.test(s)) {
    s = s.slice(2);
    b = 16;
  } else if (b === 0) b = s.startsWith('0') ? 8 : 10;
  const digits = b === 16 ? /^[0-9a-fA-F]+$/ : b === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!digits.test(s)) return null;
  let v = 0n;
  const B = BigInt(b);
  for (const ch of s) v = v * B + BigInt(parseInt(ch, b));
  const max = (1n << 64n) - 1n;
  if (v > max) return null; // ERANGE
  return neg ? (v === 0n ? 0n : (1n << 64n) - v) : v;
}

/** get_u32/get_unsigned: null on error. */
export function getU32(arg: string, base = 0): number | null {
  if (!arg) return null;
  const v = strtoull(arg, base);
  if (v === null || v > 0xffffffffn) return null;
  return Number(v);
}
export function getU16(arg: string, base = 0): number | null {
  const v = getU32(arg, base);
  return v === null || v > 0xffff ? null : v;
}
export function getU8(arg: string, base = 0): number | null {
  const v = getU32(arg, base);
  return v === null || v > 0xff ? null : v;
}
/** get_u64: u64 values as JS numbers; 2^64-1 (XFRM_INF) becomes Infinity. */
export function getU64(arg: string, base = 0): number | null {
  if (!arg) return null;
  const v = strtoull(arg, base);
  if (v === null) return null;
  if (v === (1n << 64n) - 1n) return Number.POSITIVE_INFINITY;
  return Number(v);
}

/**
 * The shape of iproute2's *_flag_parse(): either one hex value (`0x..`, read with
 * `getHex`, `error` when it does not fit) or a run of flag names, stopping before
 * the first word that is not one.
 */
export function parseFlagWords(
  a: Args, flags: number, names: Readonly<Record<string, number>>,
  getHex: (t: string) => number | null, error: string,
): number {
  const t = a.cur;
  if (t.length > 2 && t.startsWith('0x')) {
    const v = getHex(t);
    if (v === null) invarg(error, t);
    return v;
  }
  for (;;) {
    const bit = Object.hasOwn(names, a.cur) ? names[a.cur] : undefined;
    if (bit === undefined) {
      a.prev();
      break;
    }
    flags |= bit;
    if (!a.nextOk()) break;
    a.next();
  }
  return flags;
}
