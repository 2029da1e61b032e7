/**
 * `conntrack -L` listing (conntrack-tools' default output) and the JSON form
 * a saved host keeps its table in.
 */
import type { Conn, TcpState, Tuple, SeqAdjDir } from './types.js';
import { IPS_ASSURED, IPS_CONFIRMED, IPS_OFFLOAD, IPS_SEEN_REPLY, TCP_CONNTRACK_NAMES } from './types.js';
import { ConntrackTable } from './table.js';
import { formatIPv4, formatIPv6 } from '../../packet/wire/bytes.js';
import { hasPorts } from './tuple.js';
import { expectationsOf } from './helpers.js';
import type { Expectation } from './helpers.js';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

function addr(family: number, a: Uint8Array): string {
  return family === 2 ? formatIPv4(a, 0) : formatIPv6(a, 0);
}

function tupleText(c: Conn, t: Tuple): string {
  let s = `src=${addr(c.family, t.src)} dst=${addr(c.family, t.dst)} `;
  if (hasPorts(c.proto)) s += `sport=${t.srcPort} dport=${t.dstPort} `;
  else if (c.proto === 1 || c.proto === 58) s += `type=${t.dstPort >> 8} code=${t.dstPort & 0xff} id=${t.srcPort} `;
  else if (c.proto === 47) s += `srckey=0x${t.srcPort.toString(16)} dstkey=0x${t.dstPort.toString(16)} `;
  return s;
}

/** One line of `conntrack -L`. */
export function formatConn(table: ConntrackTable, c: Conn): string {
  const name = PROTO_NAMES[c.proto] ?? 'unknown';
  const secs = Math.max(0, Math.floor((c.timeoutAt - table.now()) / 1000));
  const acct = table.sysctl('net.netfilter.nf_conntrack_acct') !== 0;
  let s = `${name.padEnd(8)} ${c.proto} ${secs} `;
  if (c.tcp !== null) s += `${TCP_CONNTRACK_NAMES[c.tcp.state]} `;
  s += tupleText(c, c.tuple[0]);
  if (acct) s += `packets=${c.packets[0]} bytes=${c.bytes[0]} `;
  if (!(c.status & IPS_SEEN_REPLY)) s += '[UNREPLIED] ';
  s += tupleText(c, c.tuple[1]);
  if (acct) s += `packets=${c.packets[1]} bytes=${c.bytes[1]} `;
  // libnetfilter_conntrack prints one of these: an offloaded entry's flag hides [ASSURED].
  if (c.status & IPS_OFFLOAD) s += '[OFFLOAD] ';
  else if (c.status & IPS_ASSURED) s += '[ASSURED] ';
  s += `mark=${c.mark} `;
  if (c.zone !== 0) s += `zone=${c.zone} `;
  return s + 'use=1';
}

/** `conntrack -L`: every live confirmed entry, oldest first, then the summary line conntrack prints on stderr. */
export function formatConntrack(table: ConntrackTable): string {
  table.gc();
  const lines = table.confirmed().map((c) => formatConn(table, c));
  const n = lines.length;
  lines.push(`conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been shown.`);
  return lines.join('\n') + '\n';
}

const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');
const unhex = (s: string): Uint8Array => {
  const out = new Uint8Array(16);
  out.set(Buffer.from(s, 'hex').subarray(0, 16));
  return out;
};

type TupleJson = [string, string, number, number];

interface ConnJson {
  id: number; family: 2 | 10; proto: number; zone: number; tuple: [TupleJson, TupleJson];
  status: number; timeoutAt: number; mark: number; secmark: number; labels: string;
  packets: [number, number]; bytes: [number, number]; tcp: TcpState | null; helper: string;
  master: number; serial: number; streamTs: number; masqIndex: number; natFollowPort?: number;
  /** Absent when the entry has none: a helper's per-connection state (nf_ct_ftp_master, NF_CT_EXT_SEQADJ). */
  natFollowTuple?: number; seqadj?: [SeqAdjDir, SeqAdjDir]; ftpSeqAftNl?: [number[], number[]];
}

interface ExpectJson extends Omit<Expectation, 'src' | 'dst' | 'master'> { src: string; dst: string; masterId: number }

/** The JSON form of a table (confirmed entries and expectations). */
export interface ConntrackJson {
  version: 1;
  nextId: number;
  serial: number;
  conns: ConnJson[];
  expectations: ExpectJson[];
}

function tupleJson(t: Tuple): TupleJson {
  return [hex(t.src), hex(t.dst), t.srcPort, t.dstPort];
}

function tupleFrom(j: TupleJson): Tuple {
  return { src: unhex(j[0]), dst: unhex(j[1]), srcPort: j[2], dstPort: j[3] };
}

export function serializeConntrack(table: ConntrackTable): ConntrackJson {
  table.gc();
  const conns = table.confirmed();
  const idOf = (slot: number): number => table.slots[slot]?.id ?? -1;
  return {
    version: 1,
    nextId: table.nextId,
    serial: table.serial,
    conns: conns.map((c) => ({
      id: c.id, family: c.family, proto: c.proto, zone: c.zone, tuple: [tupleJson(c.tuple[0]), tupleJson(c.tuple[1])],
      status: c.status, timeoutAt: c.timeoutAt, mark: c.mark, secmark: c.secmark, labels: hex(c.labels),
      packets: [c.packets[0], c.packets[1]], bytes: [c.bytes[0], c.bytes[1]],
      tcp: c.tcp === null ? null : structuredClone(c.tcp), helper: c.helper,
      master: c.master >= 0 ? idOf(c.master) : -1, serial: c.serial, streamTs: c.streamTs, masqIndex: c.masqIndex, natFollowPort: c.natFollowPort,
      ...(c.natFollowTuple !== undefined ? { natFollowTuple: c.natFollowTuple } : {}),
      ...(c.seqadj ? { seqadj: structuredClone(c.seqadj) } : {}),
      ...(c.ftpSeqAftNl ? { ftpSeqAftNl: structuredClone(c.ftpSeqAftNl) } : {}),
    })),
    expectations: expectationsOf(table).map((e) => ({ ...e, src: hex(e.src), dst: hex(e.dst), masterId: idOf(e.master) })),
  };
}

/** Loads a saved table into `table` (which should be empty), keeping ids and timeouts. */
export function deserializeConntrack(table: ConntrackTable, json: ConntrackJson): void {
  if (json.version !== 1) throw new Error(`conntrack state version ${String(json.version)} is not supported`);
  table.nextId = json.nextId;
  table.serial = json.serial;
  const byId = new Map<number, Conn>();
  for (const j of json.conns) {
    const c: Conn = {
      slot: 0, id: j.id, family: j.family, proto: j.proto, zone: j.zone, tuple: [tupleFrom(j.tuple[0]), tupleFrom(j.tuple[1])],
      status: j.status & ~IPS_CONFIRMED, timeoutAt: j.timeoutAt, mark: j.mark, secmark: j.secmark, labels: unhex(j.labels),
      packets: [j.packets[0], j.packets[1]], bytes: [j.bytes[0], j.bytes[1]], tcp: j.tcp, helper: j.helper,
      master: -1, serial: j.serial, streamTs: j.streamTs, masqIndex: j.masqIndex, natFollowPort: j.natFollowPort ?? -1,
    };
    if (j.natFollowTuple !== undefined) c.natFollowTuple = j.natFollowTuple;
    if (j.seqadj) c.seqadj = j.seqadj;
    if (j.ftpSeqAftNl) c.ftpSeqAftNl = j.ftpSeqAftNl;
    table.allocSlot(c);
    table.insert(c);
    byId.set(c.id, c);
  }
  for (const j of json.conns) {
    if (j.master >= 0) byId.get(j.id)!.master = byId.get(j.master)?.slot ?? -1;
  }
  const exps = expectationsOf(table);
  for (const e of json.expectations) {
    const m = byId.get(e.masterId);
    if (m === undefined) continue;
    const { masterId: _m, ...rest } = e;
    exps.push({ ...rest, src: unhex(e.src), dst: unhex(e.dst), master: m.slot });
  }
}
