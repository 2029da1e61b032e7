/**
 * Extension headers and options (nftables src/exthdr.c, tcpopt.c,
 * ipopt.c): IPv6 extension headers by next-header number, TCP options by
 * kind, IPv4 options by type, with their field templates.
 */
import * as B from '../netfilter/bytecode.js';
import type { ExthdrExprA, Loc } from './ast.js';
import { DT, type Datatype, intBytes, lookupDatatype } from './datatypes.js';
import { NftError } from './diagnostics.js';
import type { Dep, EvalEnv, Operand } from './evaluate.js';
import { l3dep } from './evaluate.js';
import type { DatatypeName } from './datatypes.js';

interface Tmpl { type: number; fields: Record<string, [number, number, DatatypeName]> }

// RFC 8200 §4: next-header numbers of the extension headers.
const IP6: Record<string, Tmpl> = {
  hbh: { type: 0, fields: { nexthdr: [0, 8, 'inet_proto'], hdrlength: [8, 8, 'integer'] } },
  rt: { type: 43, fields: { nexthdr: [0, 8, 'inet_proto'], hdrlength: [8, 8, 'integer'], type: [16, 8, 'integer'], 'seg-left': [24, 8, 'integer'] } },
  // RFC 8754 §2: the segment list follows the 8 fixed bytes; exthdr.c's exthdr_rt4 has
  // templates for the first two SIDs only (`sid[N]` names template RT4HDR_SID_1 + N - 1).
  srh: { type: 43, fields: { 'last-entry': [32, 8, 'integer'], flags: [40, 8, 'integer'], tag: [48, 16, 'integer'], 'sid[1]': [64, 128, 'ipv6_addr'], 'sid[2]': [192, 128, 'ipv6_addr'] } },
  // exthdr_rt0: `addr[N]` likewise; exthdr_rt2's templates are empty in 1.0.6, so `rt2 addr`
  // has no type ("No symbol type information"). Listings try rt, srh, rt0, rt2 in this order
  // (exthdr_init_raw), so an `rt0 addr[1]` load lists as `srh sid[1]`.
  rt0: { type: 43, fields: { reserved: [32, 8, 'integer'], 'addr[1]': [64, 128, 'ipv6_addr'], 'addr[2]': [192, 128, 'ipv6_addr'] } },
  rt2: { type: 43, fields: {} },
  frag: {
    type: 44,
    fields: { nexthdr: [0, 8, 'inet_proto'], reserved: [8, 8, 'integer'], 'frag-off': [16, 13, 'integer'], reserved2: [29, 2, 'integer'], 'more-fragments': [31, 1, 'integer'], id: [32, 32, 'integer'] },
  },
  dst: { type: 60, fields: { nexthdr: [0, 8, 'inet_proto'], hdrlength: [8, 8, 'integer'] } },
  mh: { type: 135, fields: { nexthdr: [0, 8, 'inet_proto'], hdrlength: [8, 8, 'integer'], type: [16, 8, 'mh_type'], reserved: [24, 8, 'integer'], checksum: [32, 16, 'integer'] } },
};

// RFC 9293 §3.2 and the IANA TCP option kinds.
const TCPOPT: Record<string, Tmpl> = {
  eol: { type: 0, fields: { kind: [0, 8, 'integer'] } },
  nop: { type: 1, fields: { kind: [0, 8, 'integer'] } },
  maxseg: { type: 2, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'], size: [16, 16, 'integer'] } },
  window: { type: 3, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'], count: [16, 8, 'integer'] } },
  'sack-perm': { type: 4, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'] } },
  sack: { type: 5, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'], left: [16, 32, 'integer'], right: [48, 32, 'integer'] } },
  sack0: { type: 5, fields: { left: [16, 32, 'integer'], right: [48, 32, 'integer'] } },
  sack1: { type: 5, fields: { left: [80, 32, 'integer'], right: [112, 32, 'integer'] } },
  sack2: { type: 5, fields: { left: [144, 32, 'integer'], right: [176, 32, 'integer'] } },
  sack3: { type: 5, fields: { left: [208, 32, 'integer'], right: [240, 32, 'integer'] } },
  timestamp: { type: 8, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'], tsval: [16, 32, 'integer'], tsecr: [48, 32, 'integer'] } },
  md5sig: { type: 19, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'] } },
  fastopen: { type: 34, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'] } },
  mptcp: { type: 30, fields: { kind: [0, 8, 'integer'], length: [8, 8, 'integer'], subtype: [16, 4, 'integer'] } },
};

// RFC 791 §3.1 option types.
const IPOPT: Record<string, Tmpl> = {
  lsrr: { type: 131, fields: { type: [0, 8, 'integer'], length: [8, 8, 'integer'], ptr: [16, 8, 'integer'], addr: [24, 32, 'ipv4_addr'] } },
  rr: { type: 7, fields: { type: [0, 8, 'integer'], length: [8, 8, 'integer'], ptr: [16, 8, 'integer'], addr: [24, 32, 'ipv4_addr'] } },
  ssrr: { type: 137, fields: { type: [0, 8, 'integer'], length: [8, 8, 'integer'], ptr: [16, 8, 'integer'], addr: [24, 32, 'ipv4_addr'] } },
  ra: { type: 148, fields: { type: [0, 8, 'integer'], length: [8, 8, 'integer'], value: [16, 16, 'integer'] } },
};

// RFC 9260 §3.2 chunk types and §3.3 chunk layouts (type, flags, length first).
const SCTP_COMMON: Tmpl['fields'] = { type: [0, 8, 'integer'], flags: [8, 8, 'integer'], length: [16, 16, 'integer'] };
const sctp = (type: number, fields: Tmpl['fields'] = {}): Tmpl => ({ type, fields: { ...SCTP_COMMON, ...fields } });
const INIT: Tmpl['fields'] = { 'init-tag': [32, 32, 'integer'], 'a-rwnd': [64, 32, 'integer'], 'num-outbound-streams': [96, 16, 'integer'], 'num-inbound-streams': [112, 16, 'integer'], 'initial-tsn': [128, 32, 'integer'] };
const SCTP: Record<string, Tmpl> = {
  data: sctp(0, { tsn: [32, 32, 'integer'], stream: [64, 16, 'integer'], ssn: [80, 16, 'integer'], ppid: [96, 32, 'integer'] }),
  init: sctp(1, INIT), 'init-ack': sctp(2, INIT),
  sack: sctp(3, { 'cum-tsn-ack': [32, 32, 'integer'], 'a-rwnd': [64, 32, 'integer'], 'num-gap-ack-blocks': [96, 16, 'integer'], 'num-dup-tsns': [112, 16, 'integer'] }),
  heartbeat: sctp(4), 'heartbeat-ack': sctp(5), abort: sctp(6), shutdown: sctp(7, { 'cum-tsn-ack': [32, 32, 'integer'] }),
  'shutdown-ack': sctp(8), error: sctp(9), 'cookie-echo': sctp(10), 'cookie-ack': sctp(11),
  ecne: sctp(12, { 'lowest-tsn': [32, 32, 'integer'] }), cwr: sctp(13, { 'lowest-tsn': [32, 32, 'integer'] }),
  'shutdown-complete': sctp(14), 'asconf-ack': sctp(128, { seqno: [32, 32, 'integer'] }),
  'forward-tsn': sctp(192, { 'new-cum-tsn': [32, 32, 'integer'] }), asconf: sctp(193, { seqno: [32, 32, 'integer'] }),
};

/** `reset tcp option NAME|KIND` (optstrip_stmt): the option kind, by name or as 0..255. */
export function tcpOptionKind(name: string, loc: Loc): number {
  const t = TCPOPT[name];
  if (t) return t.type;
  if (/^\d+$/.test(name) && Number(name) <= 255) return Number(name);
  throw new NftError('GENERIC', [`unknown tcp option ${name}`], loc);
}

/** The name nft lists for a TCP option kind, or the number when it has none. */
export function tcpOptionName(kind: number): string {
  const hit = Object.entries(TCPOPT).find(([n, t]) => t.type === kind && !/^sack\d$/.test(n));
  return hit ? hit[0] : String(kind);
}

const OPS = { ipv6: B.NFT_EXTHDR_OP_IPV6, tcpopt: B.NFT_EXTHDR_OP_TCPOPT, ipv4: B.NFT_EXTHDR_OP_IPV4, sctp: B.NFT_EXTHDR_OP_SCTP, dccp: B.NFT_EXTHDR_OP_DCCP };

export function exthdrOperand(e: ExthdrExprA, env: EvalEnv): Operand {
  const table = e.op === 'ipv6' ? IP6 : e.op === 'tcpopt' ? TCPOPT : e.op === 'sctp' ? SCTP : IPOPT;
  let tmpl = table[e.hdr];
  let type: number;
  if (!tmpl && /^\d+$/.test(e.hdr) && Number(e.hdr) <= 255) { type = Number(e.hdr); tmpl = { type, fields: {} }; }
  if (!tmpl) throw new NftError('GENERIC', [`unknown ${e.op === 'tcpopt' ? 'tcp option' : 'exthdr'} ${e.hdr}`], e.loc);
  type = tmpl.type;
  let deps: Dep[] = [];
  // nft 1.0.6 adds no dependency for tcp options: the kernel's exthdr checks the protocol.
  if (e.op === 'tcpopt' || e.op === 'sctp') deps = [];
  else if (e.op === 'ipv4') deps = l3dep(env.family, 'ip');
  else deps = l3dep(env.family, 'ip6');
  const op = OPS[e.op];
  if (e.present || e.field === '') {
    const len = e.op === 'tcpopt' ? 1 : 1;
    return {
      dtype: DT.boolean, bits: 1, byteorder: 'host', regBytes: 1, shift: 0, deps, loc: e.loc,
      load: (r) => [{ type: 'exthdr', op, exthdrType: type, offset: 0, len, flags: B.NFT_EXTHDR_F_PRESENT, dreg: r }],
    };
  }
  const raw = /^@(\d+),(\d+)$/.exec(e.field);
  const f: [number, number, DatatypeName] | undefined = raw ? [Number(raw[1]), Number(raw[2]), 'integer'] : tmpl.fields[e.field];
  // A `sid[N]` past the templates nft has is an empty template: no datatype to parse with.
  if (!f && (/^(sid|addr)\[\d+\]$/.test(e.field) || (e.hdr === 'rt2' && e.field === 'addr'))) throw new NftError('GENERIC', ['No symbol type information'], e.loc);
  if (!f) throw new NftError('GENERIC', [`unknown field ${e.field}`], e.loc);
  const [bitOff, bits, dtn] = f;
  const dtype: Datatype = lookupDatatype(dtn)!;
  const startByte = Math.floor(bitOff / 8);
  const regBytes = Math.ceil((bitOff + bits) / 8) - startByte;
  const shift = regBytes * 8 - (bitOff - startByte * 8) - bits;
  const mask = shift !== 0 || bits % 8 !== 0 ? intBytes(((1n << BigInt(bits)) - 1n) << BigInt(shift), regBytes * 8, 'big') : undefined;
  return {
    dtype, bits, byteorder: 'big', regBytes, shift, mask, deps, loc: e.loc,
    exthdr: { type: 'exthdr', op, exthdrType: type, offset: startByte, len: regBytes, flags: 0 },
    load: (r) => {
      const out: B.Expr[] = [{ type: 'exthdr', op, exthdrType: type, offset: startByte, len: regBytes, flags: 0, dreg: r }];
      if (mask) out.push({ type: 'bitwise', sreg: r, dreg: r, len: regBytes, op: B.NFT_BITWISE_BOOL, mask, xor: new Uint8Array(regBytes) });
      return out;
    },
  };
}

/** Reverse lookup for listings: the `exthdr`/option expression text and datatype of a load. */
export function exthdrText(e: B.ExthdrExpr, mask?: Uint8Array): { text: string; dtype: Datatype; bits: number; shift: number; present: boolean } | undefined {
  const [table, prefix] = e.op === B.NFT_EXTHDR_OP_IPV6 ? [IP6, ''] : e.op === B.NFT_EXTHDR_OP_TCPOPT ? [TCPOPT, 'tcp option '] : e.op === B.NFT_EXTHDR_OP_SCTP ? [SCTP, 'sctp chunk '] : e.op === B.NFT_EXTHDR_OP_IPV4 ? [IPOPT, 'ip option '] : [undefined, ''];
  if (!table) return undefined;
  const names = Object.entries(table).filter(([, t]) => t.type === e.exthdrType);
  if (e.flags & B.NFT_EXTHDR_F_PRESENT) {
    const name = names[0]?.[0] ?? String(e.exthdrType);
    return { text: e.op === B.NFT_EXTHDR_OP_IPV6 ? `exthdr ${name}` : `${prefix}${name}`, dtype: DT.boolean, bits: 1, shift: 0, present: true };
  }
  let shift = 0;
  let bits = e.len * 8;
  if (mask) {
    let m = 0n;
    for (const b of mask) m = (m << 8n) | BigInt(b);
    while (m && !((m >> BigInt(shift)) & 1n)) shift++;
    bits = 0;
    while ((m >> BigInt(shift + bits)) & 1n) bits++;
  }
  const bitOff = e.offset * 8 + (e.len * 8 - shift - bits);
  for (const [name, t] of names) {
    for (const [field, [off, len, dt]] of Object.entries(t.fields)) {
      if (off === bitOff && len === bits) return { text: `${prefix}${name} ${field}`, dtype: lookupDatatype(dt)!, bits, shift, present: false };
    }
  }
  // No named field there: nft lists the raw form `tcp option @kind,offset,length`.
  if (e.op === B.NFT_EXTHDR_OP_TCPOPT && !mask) return { text: `tcp option @${e.exthdrType},${bitOff},${bits}`, dtype: DT.integer, bits, shift, present: false };
  return undefined;
}
