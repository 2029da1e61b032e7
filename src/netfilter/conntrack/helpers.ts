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
import { IPS_DST_NAT, IPS_SRC_NAT, IP_CT_IS_REPLY } from './types.js';
import type { ConntrackTable } from './table.js';
import { newL4Info, parsePacket } from './tuple.js';

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

/** nf_ct_expect_related(): adds an expectation, evicting the master's oldest beyond its limit. */
export function expect(table: ConntrackTable, e: Expectation): void {
  const l = expectationsOf(table);
  const mine = l.filter((x) => x.master === e.master);
  if (mine.length >= MAX_EXPECTED) l.splice(l.indexOf(mine[0]!), 1);
  l.push(e);
}

const info = newL4Info();

function newExpectation(table: ConntrackTable, c: Conn, src: Uint8Array, dst: Uint8Array, proto: number, dstPort: number, helper: string): Expectation {
  const e: Expectation = {
    master: c.slot, family: c.family, proto, zone: c.zone, src: new Uint8Array(16), dst: new Uint8Array(16), srcPort: -1, dstPort,
    expiresAt: table.now() + EXPECT_TIMEOUT_MS, mark: c.mark, helper, natFollowPort: -1,
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

const decoder = new TextDecoder('latin1');

/**
 * nf_conntrack_ftp: PORT/EPRT from the client and 227/229 replies from the
 * server announce a data connection; it is expected from the other side (any
 * port) to the announced address and port. Addresses that differ from the
 * announcing side's are refused, as the kernel does unless loose=1.
 */
function ftpHelp(table: ConntrackTable, pkt: Packet, c: Conn, dir: number): void {
  const buf = pkt.buffer;
  if (parsePacket(pkt, c.family, info) !== '' || info.proto !== 6) return;
  const doff = (buf[info.l4off + 12]! >> 4) * 4;
  const start = info.l4off + doff;
  if (start >= info.l4end) return;
  const text = decoder.decode(buf.subarray(start, Math.min(info.l4end, start + 512)));
  let addr: Uint8Array | null = null;
  let port = -1;
  const self = c.tuple[dir].src;
  let m: RegExpExecArray | null;
  if (dir === 0 && (m = /^PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\r?\n/i.exec(text)) && c.family === 2) {
    addr = new Uint8Array([+m[1]!, +m[2]!, +m[3]!, +m[4]!]);
    port = (+m[5]! << 8) | +m[6]!;
  } else if (dir === 1 && (m = /^227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(text)) && c.family === 2) {
    addr = new Uint8Array([+m[1]!, +m[2]!, +m[3]!, +m[4]!]);
    port = (+m[5]! << 8) | +m[6]!;
  } else if (dir === 0 && (m = /^EPRT \|([12])\|([^|]+)\|(\d+)\|/i.exec(text))) {
    addr = parseAddr(m[2]!, c.family);
    port = +m[3]!;
  } else if (dir === 1 && (m = /^229 .*\(\|\|\|(\d+)\|\)/.exec(text))) {
    addr = self; // EPSV: the data connection goes to the server's own address
    port = +m[1]!;
  }
  if (addr === null || port < 0 || port > 65535) return;
  const alen = c.family === 2 ? 4 : 16;
  for (let i = 0; i < alen; i++) if (addr[i] !== self[i]) return;
  const full = new Uint8Array(16);
  full.set(addr.subarray(0, alen));
  expect(table, newExpectation(table, c, c.tuple[dir ^ 1].src, full, 6, port, 'ftp'));
}

function parseAddr(s: string, family: number): Uint8Array | null {
  if (family === 2) {
    const p = s.split('.').map(Number);
    return p.length === 4 && p.every((x) => x >= 0 && x <= 255) ? new Uint8Array(p) : null;
  }
  return null;
}

/** Runs the connection's helper on a packet (the helper hook before confirmation). */
export function runHelper(table: ConntrackTable, pkt: Packet, c: Conn, ctinfo: number): void {
  if (c.helper === 'tftp') tftpHelp(table, pkt, c);
  else if (c.helper === 'ftp') ftpHelp(table, pkt, c, ctinfo >= IP_CT_IS_REPLY ? 1 : 0);
}
