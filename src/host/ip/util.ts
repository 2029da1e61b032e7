/**
 * Shared pieces of the `ip` command: iproute2's keyword matching, name tables
 * (rt_tables, rt_protos, rt_scopes) and argument errors with its wording.
 */
import { HostError, incompleteCommand } from '../errors.js';
import { formatAddr, parseAddr, parsePrefix, type Family, type Prefix } from '../inet.js';
import type { Host, Link } from '../types.js';
import { linkByName } from '../links.js';

export interface IpOptions {
  family?: Family;
  json: boolean;
  stats: number;
  details: number;
  oneline: boolean;
  /** -br: one line per link. */
  brief: boolean;
}

export interface IpIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** iproute2's matches(): the word is a non-empty prefix of the keyword. */
export function matches(word: string, keyword: string): boolean {
  return word.length > 0 && keyword.startsWith(word);
}

/** Usage-level failure: iproute2 exits 1 after printing it. */
export function fail(message: string, status = 1): HostError {
  return new HostError(message, status);
}

export function invalidArg(what: string, value: string): HostError {
  return fail(`Error: argument "${value}" is wrong: ${what}`);
}

export function garbage(key: string, value: string): HostError {
  return fail(`Error: either "${key}" is duplicate, or "${value}" is a garbage.`);
}

export class Args {
  i = 0;
  constructor(readonly argv: string[]) {}
  get done(): boolean { return this.i >= this.argv.length; }
  peek(): string | undefined { return this.argv[this.i]; }
  take(): string { return this.argv[this.i++]!; }
  /**
   * NEXT_ARG() (iproute2 include/utils.h) with the cursor on the keyword: the value after
   * it, or incomplete_command() — `Command line is not complete. Try option "help"`, exit 255.
   */
  next(): string {
    this.i++;
    if (this.i >= this.argv.length) incompleteCommand();
    return this.argv[this.i]!;
  }
  /** NEXT_ARG() for parsers that already took the keyword: the value, consumed; exit 255 when there is none. */
  value(): string {
    if (this.i >= this.argv.length) incompleteCommand();
    return this.argv[this.i++]!;
  }
}

export function findDev(host: Host, name: string): Link {
  const l = linkByName(host, name);
  if (!l) throw fail(`Cannot find device "${name}"`);
  return l;
}

export function parseInetPrefix(text: string, family: Family | undefined, what = 'any valid prefix'): Prefix {
  if (text === 'default' || text === 'all' || text === 'any') {
    const f = family ?? 4;
    return { family: f, addr: new Uint8Array(f === 4 ? 4 : 16), plen: 0 };
  }
  const p = parsePrefix(text, family);
  if (!p) throw fail(`Error: ${family === 6 ? 'inet6' : family === 4 ? 'inet' : what} prefix is expected rather than "${text}".`.replace('any valid prefix prefix', 'any valid prefix'));
  return p;
}

export function parseInetAddr(text: string, family: Family | undefined): Uint8Array {
  const a = parseAddr(text, family);
  if (!a) {
    const kind = family === 6 ? 'inet6 address' : family === 4 ? 'inet address' : 'any valid address';
    throw fail(`Error: ${kind} is expected rather than "${text}".`);
  }
  return a;
}

export function familyOf(a: Uint8Array): Family { return a.length === 4 ? 4 : 6; }

const TABLES: Record<string, number> = { unspec: 0, default: 253, main: 254, local: 255 };

export function tableName(id: number): string {
  for (const [k, v] of Object.entries(TABLES)) if (v === id && id !== 0) return k;
  return String(id);
}

export function parseTable(text: string): number | undefined {
  if (text in TABLES) return TABLES[text];
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) {
    const n = Number(text);
    if (n <= 0xffffffff) return n;
  }
  return undefined;
}

/** /usr/share/iproute2/rt_protos plus iproute2's built-in names. */
const PROTOS: Record<number, string> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra',
  12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 18: 'keepalived', 42: 'babel', 99: 'openr',
  186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp',
};

export function protoName(p: number): string { return PROTOS[p] ?? String(p); }

export function parseProto(text: string): number | undefined {
  for (const [k, v] of Object.entries(PROTOS)) if (v === text) return Number(k);
  if (/^\d+$/.test(text) && Number(text) < 256) return Number(text);
  return undefined;
}

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

export function scopeName(s: number): string { return SCOPES[s] ?? String(s); }

export function parseScope(text: string): number | undefined {
  if (text === 'universe') return 0;
  for (const [k, v] of Object.entries(SCOPES)) if (v === text) return Number(k);
  if (/^\d+$/.test(text) && Number(text) < 256) return Number(text);
  return undefined;
}

/** Numbers as iproute2's get_u32(): decimal, 0x hex or 0 octal. */
export function parseU32(text: string): number | undefined {
  let n: number;
  if (/^0x[0-9a-f]+$/i.test(text)) n = parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) n = parseInt(text, 8);
  else if (/^\d+$/.test(text)) n = Number(text);
  else return undefined;
  return n <= 0xffffffff ? n : undefined;
}

export function fmtAddr(a: Uint8Array): string { return formatAddr(a); }

/** One JSON value as iproute2 prints with -j (compact, one line). */
export function json(value: unknown): string { return JSON.stringify(value); }
