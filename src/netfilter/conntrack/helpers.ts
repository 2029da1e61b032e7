/**
 * Conntrack helpers and expectations (nf_conntrack_helper.c,
 * nf_conntrack_expect.c, nf_conntrack_ftp.c, nf_conntrack_tftp.c). A helper is
 * attached by `ct helper set` (automatic assignment is off since Linux 4.7);
 * it reads its connection's packets at the confirm hook and expects the
 * related connection they announce. The expected connection's first packet
 * is RELATED; a NATed master's expected connection follows its NAT.
 */
import type { Packet } from '../../packet/packet.js';
import type { Conn, Tuple } from './types.js';
import { IPS_DST_NAT, IPS_SRC_NAT, IP_CT_ESTABLISHED, IP_CT_ESTABLISHED_REPLY, IP_CT_IS_REPLY } from './types.js';
import type { ConntrackTable } from './table.js';
import { newL4Info, parsePacket } from './tuple.js';
import { natFtp, NF_CT_FTP_EPRT, NF_CT_FTP_EPSV, NF_CT_FTP_PASV, NF_CT_FTP_PORT } from '../nat/ftp.js';

const NF_DROP = 0;
const NF_ACCEPT = 1;

/** An expected connection (struct nf_conntrack_expect); a source port of -1 is a wildcard. */
export interface Expectation {
  master: number;
  family: number;
  proto: number;
  zone: number;
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
  expiresAt: number;
  mark: number;
  helper: string;
  /** nf_nat_follow_master's saved port, -1 when the master is not NATed. */
  natFollowPort: number;
  /** Which master tuple nf_nat_follow_master maps from (the kernel's !exp->dir): 0 for tftp. */
  natFollowTuple: number;
}

const expectations = new WeakMap<ConntrackTable, Expectation[]>();

export function expectationsOf(table: ConntrackTable): Expectation[] {
  let l = expectations.get(table);
  if (l === undefined) {
    l = [];
    expectations.set(table, l);
  }
  return l;
}

function matches(e: Expectation, c: Conn): boolean {
  const t: Tuple = c.tuple[0];
  if (e.family !== c.family || e.proto !== c.proto || e.zone !== c.zone) return false;
  const alen = c.family === 2 ? 4 : 16;
  for (let i = 0; i < alen; i++) if (e.src[i] !== t.src[i] || e.dst[i] !== t.dst[i]) return false;
  return (e.srcPort < 0 || e.srcPort === t.srcPort) && e.dstPort === t.dstPort;
}

/** nf_ct_find_expectation(): a live expectation the new connection fulfils; it is consumed. */
export function expectationFor(table: ConntrackTable, c: Conn): Expectation | undefined {
  const l = expectations.get(table);
  if (l === undefined || l.length === 0) return undefined;
  const now = table.now();
  for (let i = l.length - 1; i >= 0; i--) {
    const e = l[i]!;
    const m = table.slots[e.master];
    if (e.expiresAt <= now || m == null || m.timeoutAt <= now) {
      l.splice(i, 1);
      continue;
    }
    if (matches(e, c)) {
      l.splice(i, 1);
      return e;
    }
  }
  return undefined;
}

/** Hook for helpers on a new, unexpected connection (none are auto-assigned). */
export function helperNewConn(_table: ConntrackTable, _c: Conn): void {}

/** The expectation timeout of both helpers' policies (5 minutes). */
const EXPECT_TIMEOUT_MS = 300_000;
/** nf_ct_expect_max per master (the helpers' policy max_expected): ftp 1, tftp 1. */
const MAX_EXPECTED = 1;

/** -EBUSY / -EALREADY of nf_ct_expect_related(). */
const EBUSY = -16;
const EALREADY = -114;

function sameExpTuple(a: Expectation, b: Expectation, srcPortsToo: boolean): boolean {
  if (a.family !== b.family || a.proto !== b.proto || a.zone !== b.zone || a.dstPort !== b.dstPort) return false;
  for (let i = 0; i < 16; i++) if (a.src[i] !== b.src[i] || a.dst[i] !== b.dst[i]) return false;
  if (srcPortsToo) return a.srcPort === b.srcPort;
  return a.srcPort < 0 || b.srcPort < 0 || a.srcPort === b.srcPort;
}

/**
 * nf_ct_expect_related() (__nf_ct_expect_check): the master's own identical
 * expectation is replaced; one of another master that the new one overlaps
 * (expect_clash: equal under the intersection of their masks) refuses it with
 * -EBUSY; beyond the helper policy's max_expected the master's oldest is
 * evicted. Returns 0 or a negative errno.
 */
export function expectRelated(table: ConntrackTable, e: Expectation): number {
  const l = expectationsOf(table);
  const now = table.now();
  for (let i = l.length - 1; i >= 0; i--) {
    const x = l[i]!;
    if (x.expiresAt <= now) { l.splice(i, 1); continue; }
    if (x.master === e.master && sameExpTuple(x, e, true)) {
      if (x.helper !== e.helper) return EALREADY;
      l.splice(i, 1);
    } else if (sameExpTuple(x, e, false)) {
      return EBUSY;
    }
  }
  const mine = l.filter((x) => x.master === e.master);
  if (mine.length >= MAX_EXPECTED) l.splice(l.indexOf(mine[0]!), 1);
  l.push(e);
  return 0;
}

/** nf_ct_expect_related() for helpers that do not care why it failed. */
export function expect(table: ConntrackTable, e: Expectation): void {
  expectRelated(table, e);
}

/** nf_ct_unexpect_related(). */
function unexpect(table: ConntrackTable, e: Expectation): void {
  const l = expectationsOf(table);
  const i = l.indexOf(e);
  if (i >= 0) l.splice(i, 1);
}

const info = newL4Info();

function newExpectation(table: ConntrackTable, c: Conn, src: Uint8Array, dst: Uint8Array, proto: number, dstPort: number, helper: string): Expectation {
  const e: Expectation = {
    master: c.slot, family: c.family, proto, zone: c.zone, src: new Uint8Array(16), dst: new Uint8Array(16), srcPort: -1, dstPort,
    expiresAt: table.now() + EXPECT_TIMEOUT_MS, mark: c.mark, helper, natFollowPort: -1, natFollowTuple: 0,
  };
  e.src.set(src);
  e.dst.set(dst);
  return e;
}

/** nf_conntrack_tftp: a read or write request expects the server's answer from any port to the client's port. */
function tftpHelp(table: ConntrackTable, pkt: Packet, c: Conn): void {
  const buf = pkt.buffer;
  if (parsePacket(pkt, c.family, info) !== '' || info.proto !== 17 || info.l4off + 10 > info.l4end) return;
  const opcode = (buf[info.l4off + 8]! << 8) | buf[info.l4off + 9]!;
  if (opcode !== 1 && opcode !== 2) return; // TFTP_OPCODE_READ, TFTP_OPCODE_WRITE
  const r = c.tuple[1];
  const e = newExpectation(table, c, r.src, r.dst, 17, r.dstPort, 'tftp');
  // nf_nat_tftp: the data connection follows the master's NAT, to the port the request came from.
  if (c.status & (IPS_SRC_NAT | IPS_DST_NAT)) e.natFollowPort = r.dstPort;
  expect(table, e);
}

/** What the ftp helper parsed (struct nf_conntrack_man plus the match position). */
interface FtpCmd {
  addr: Uint8Array;
  port: number;
  /** Offset of the address text in the payload (find_pattern's numoff). */
  off: number;
}

const cmd: FtpCmd = { addr: new Uint8Array(16), port: 0, off: 0 };
const nums = [0, 0, 0, 0, 0, 0];
const DIGIT0 = 48, DIGIT9 = 57;

function isDigit(ch: number): boolean {
  return ch >= DIGIT0 && ch <= DIGIT9;
}

/** try_number(): `n` numbers separated by `sep`, ended by `term` (0 = anything); their text's length, or 0. */
function tryNumber(b: Uint8Array, p: number, dlen: number, n: number, sep: number, term: number): number {
  nums.fill(0);
  for (let i = 0, len = 0; len < dlen && i < n; len++) {
    const ch = b[p + len]!;
    if (isDigit(ch)) nums[i] = (nums[i]! * 10 + ch - DIGIT0) >>> 0;
    else if (ch === sep) i++;
    else return (ch === term || term === 0) && i === n - 1 ? len : 0;
  }
  return 0;
}

/** The address of try_rfc959/try_eprt: the numbers packed into a u32 the way the kernel shifts them. */
function setAddr4(a: Uint8Array): void {
  const v = ((nums[0]! << 24) | (nums[1]! << 16) | (nums[2]! << 8) | nums[3]!) >>> 0;
  a[0] = v >>> 24; a[1] = (v >>> 16) & 0xff; a[2] = (v >>> 8) & 0xff; a[3] = v & 0xff;
}

/** try_rfc959(): `h1,h2,h3,h4,p1,p2`. */
function tryRfc959(b: Uint8Array, p: number, dlen: number, term: number): number {
  const len = tryNumber(b, p, dlen, 6, 44, term);
  if (len === 0) return 0;
  setAddr4(cmd.addr);
  cmd.port = ((nums[4]! << 8) | nums[5]!) & 0xffff;
  return len;
}

/** try_rfc1123(): RFC 1123 §4.1.2.6 — scan the 227 reply for the first digit of the numbers. */
function tryRfc1123(b: Uint8Array, p: number, dlen: number): number {
  let i = 0;
  while (i < dlen && !isDigit(b[p + i]!)) i++;
  if (i === dlen) return 0;
  cmd.off += i;
  return tryRfc959(b, p + i, dlen - i, 0);
}

/** get_port(): a decimal port up to `delim` (a u16 that wraps, as the kernel's does); the index after it, or 0. */
function getPort(b: Uint8Array, p: number, start: number, dlen: number, delim: number): number {
  let port = 0;
  for (let i = start; i < dlen; i++) {
    const ch = b[p + i]!;
    if (ch === delim) {
      if (port === 0) break;
      cmd.port = port;
      return i + 1;
    }
    if (!isDigit(ch)) break;
    port = (port * 10 + ch - DIGIT0) & 0xffff;
  }
  return 0;
}

/** in6_pton() up to `delim`: the length of the address text, or 0. */
function in6pton(b: Uint8Array, p: number, dlen: number, delim: number, out: Uint8Array): number {
  let n = 0;
  while (n < dlen && b[p + n] !== delim) n++;
  if (n === dlen || n === 0) return 0;
  const s = String.fromCharCode(...b.subarray(p, p + n));
  const halves = s.split('::');
  if (halves.length > 2) return 0;
  const words = (part: string): number[] | null => {
    if (part === '') return [];
    const w: number[] = [];
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const q = g.split('.');
        if (q.length !== 4 || !q.every((x) => /^\d{1,3}$/.test(x) && +x <= 255)) return null;
        w.push((+q[0]! << 8) | +q[1]!, (+q[2]! << 8) | +q[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        w.push(parseInt(g, 16));
      } else {
        return null;
      }
    }
    return w;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (head === null || tail === null) return 0;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return 0;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  for (let i = 0; i < 8; i++) { out[2 * i] = all[i]! >> 8; out[2 * i + 1] = all[i]! & 0xff; }
  return n;
}

/** try_eprt(): `|1|132.235.1.2|6275|` or `|2|3ffe::1|6275|`; the protocol must be the connection's family. */
function tryEprt(b: Uint8Array, p: number, dlen: number, family: number): number {
  if (dlen <= 3) return 0;
  const delim = b[p]!;
  if (isDigit(delim) || delim < 33 || delim > 126 || b[p + 2] !== delim) return 0;
  const proto = b[p + 1]!;
  if ((family === 2 && proto !== 49) || (family === 10 && proto !== 50)) return 0;
  let length: number;
  if (proto === 49) {
    length = tryNumber(b, p + 3, dlen - 3, 4, 46, delim);
    if (length !== 0) setAddr4(cmd.addr);
  } else {
    length = in6pton(b, p + 3, dlen - 3, delim, cmd.addr);
  }
  if (length === 0) return 0;
  // The match covers "|1|", the address, its delimiter, the port and the closing delimiter.
  return getPort(b, p, 3 + length + 1, dlen, delim);
}

/** try_epsv_response(): `|||6446|` (the address is the server's own). */
function tryEpsv(b: Uint8Array, p: number, dlen: number): number {
  if (dlen <= 3) return 0;
  const delim = b[p]!;
  if (isDigit(delim) || delim < 33 || delim > 126 || b[p + 1] !== delim || b[p + 2] !== delim) return 0;
  return getPort(b, p, 3, dlen, delim);
}

/** The search table of nf_conntrack_ftp.c: per direction, the pattern, skip and terminator characters. */
interface FtpSearch {
  pattern: string;
  skip: number;
  term: number;
  type: number;
  getnum: (b: Uint8Array, p: number, dlen: number, family: number, term: number) => number;
}

const SEARCH: [FtpSearch[], FtpSearch[]] = [
  [
    { pattern: 'PORT', skip: 32, term: 13, type: NF_CT_FTP_PORT, getnum: (b, p, d, _f, t) => tryRfc959(b, p, d, t) },
    { pattern: 'EPRT', skip: 32, term: 13, type: NF_CT_FTP_EPRT, getnum: (b, p, d, f) => tryEprt(b, p, d, f) },
  ],
  [
    { pattern: '227 ', skip: 0, term: 0, type: NF_CT_FTP_PASV, getnum: (b, p, d) => tryRfc1123(b, p, d) },
    { pattern: '229 ', skip: 40, term: 41, type: NF_CT_FTP_EPSV, getnum: (b, p, d) => tryEpsv(b, p, d) },
  ],
];

function caseEq(b: Uint8Array, p: number, pattern: string, n: number): boolean {
  for (let i = 0; i < n; i++) {
    let ch = b[p + i]!;
    if (ch >= 97 && ch <= 122) ch -= 32;
    if (ch !== pattern.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * find_pattern(): 1 and the match's length when the payload starts with the
 * pattern and the numbers parse, 0 when it is something else, -1 for a
 * partial match (the pattern, but no valid numbers, or a payload shorter
 * than the pattern that begins like it) — the helper drops those packets.
 */
function findPattern(b: Uint8Array, p: number, dlen: number, s: FtpSearch, family: number, len: number[]): number {
  const plen = s.pattern.length;
  if (dlen <= plen) return caseEq(b, p, s.pattern, dlen) ? -1 : 0;
  if (!caseEq(b, p, s.pattern, plen)) return 0;
  let i = plen;
  if (s.skip !== 0) {
    for (; b[p + i] !== s.skip; i++) if (i === dlen - 1) return -1;
    i++;
  }
  cmd.off = i;
  len[0] = s.getnum(b, p + i, dlen - i, family, s.term);
  return len[0] === 0 ? -1 : 1;
}

const matchLen = [0];

/** nf_ct_helper_log(): why the last helper call dropped its packet ('' when it did not). */
export let helperLog = '';

/**
 * nf_conntrack_ftp help(): once traffic went both ways, a client's PORT/EPRT
 * or a server's 227/229 reply at the start of a segment announces the data
 * connection. It is expected from the other side (any port) to the address
 * this packet's receiver sends to, and the announced port. An address that
 * differs from the announcing side's is not recorded (the kernel's default
 * loose=0). On a NATed connection nf_nat_ftp rewrites the text and registers
 * the expectation. Returns the verdict.
 */
function ftpHelp(table: ConntrackTable, pkt: Packet, c: Conn, ctinfo: number): number {
  helperLog = '';
  if (ctinfo !== IP_CT_ESTABLISHED && ctinfo !== IP_CT_ESTABLISHED_REPLY) return NF_ACCEPT;
  const dir = ctinfo >= IP_CT_IS_REPLY ? 1 : 0;
  const buf = pkt.buffer;
  if (parsePacket(pkt, c.family, info) !== '' || info.proto !== 6 || info.l4off + 20 > info.l4end) return NF_ACCEPT;
  const dataoff = info.l4off + (buf[info.l4off + 12]! >> 4) * 4;
  if (dataoff >= info.l4end) return NF_ACCEPT;
  const datalen = info.l4end - dataoff;
  const endsInNl = buf[info.l4end - 1] === 0x0a;
  const seq = readU32(buf, info.l4off + 4);
  const nl = (c.ftpSeqAftNl ??= [[], []])[dir];
  // find_nl_seq(): only a segment that starts right after a line end the helper saw
  // in this direction is parsed, so the first data of each direction never is.
  if (!nl.includes(seq)) {
    if (endsInNl) updateNlSeq(nl, (seq + datalen) >>> 0);
    return NF_ACCEPT;
  }
  const verdict = ftpCommand(table, pkt, c, ctinfo, dir, dataoff, datalen);
  // out_update_nl: the end of this segment, by its original numbering (the helper
  // runs before seqadj), is where the next line starts. A partial match skips it.
  if (endsInNl && !partialMatch) updateNlSeq(nl, (seq + datalen) >>> 0);
  return verdict;
}

/** update_nl_seq(): remember up to two positions after a line end; when full, replace the older if this one is after it. */
function updateNlSeq(nl: number[], nlSeq: number): void {
  if (nl.includes(nlSeq)) return;
  if (nl.length < 2) { nl.push(nlSeq); return; }
  const oldest = seqBefore(nl[0]!, nl[1]!) ? 0 : 1;
  if (seqBefore(nl[oldest]!, nlSeq)) nl[oldest] = nlSeq;
}

/** before(a, b) of include/net/tcp.h: a precedes b in sequence space. */
function seqBefore(a: number, b: number): boolean { return ((a - b) | 0) < 0; }

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** The last ftpCommand() dropped a partial match (help()'s `goto out`, which skips update_nl_seq). */
let partialMatch = false;

/** The command search and the expectation (the body of help() after skip_nl_seq). */
function ftpCommand(table: ConntrackTable, pkt: Packet, c: Conn, ctinfo: number, dir: number, dataoff: number, datalen: number): number {
  const buf = pkt.buffer;
  partialMatch = false;
  // EPSV names no address: it defaults to the announcing side's.
  cmd.addr.set(c.tuple[dir].src);
  cmd.port = 0;
  let found = 0;
  let search: FtpSearch | undefined;
  for (const s of SEARCH[dir]) {
    found = findPattern(buf, dataoff, datalen, s, c.family, matchLen);
    search = s;
    if (found !== 0) break;
  }
  if (found === -1) {
    partialMatch = true;
    helperLog = `nf_ct_ftp: partial matching of \`${search!.pattern}'`;
    return NF_DROP;
  }
  if (found === 0) return NF_ACCEPT;
  const self = c.tuple[dir].src;
  for (let i = 0; i < 16; i++) if (cmd.addr[i] !== self[i]) return NF_ACCEPT;
  const other = c.tuple[dir ^ 1];
  const e = newExpectation(table, c, other.src, other.dst, 6, cmd.port, 'ftp');
  if (c.status & (IPS_SRC_NAT | IPS_DST_NAT)) {
    const r = natFtp(pkt, c, ctinfo, search!.type, info.l3off, info.l4off, cmd.off, matchLen[0]!, e,
      (port) => { e.dstPort = port; return expectRelated(table, e); }, () => unexpect(table, e));
    if (r.verdict === NF_DROP) helperLog = `nf_nat_ftp: ${r.log}`;
    return r.verdict;
  }
  if (expectRelated(table, e) !== 0) {
    helperLog = 'nf_ct_ftp: cannot add expectation';
    return NF_DROP;
  }
  return NF_ACCEPT;
}

/** Runs the connection's helper on a packet (the helper hook before confirmation); returns the verdict. */
export function runHelper(table: ConntrackTable, pkt: Packet, c: Conn, ctinfo: number): number {
  if (c.helper === 'tftp') tftpHelp(table, pkt, c);
  else if (c.helper === 'ftp') return ftpHelp(table, pkt, c, ctinfo);
  return NF_ACCEPT;
}
