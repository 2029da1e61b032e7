/** TCP (RFC 9293) with options; field names as scapy's TCP layer. */
import { concat, packBits, put16, toBytes, type PseudoHeader } from './fields.js';
import { pseudoChecksum } from './pseudo.js';

export const IPPROTO_TCP = 6;

/** TCP flag bits (RFC 9293 §3.1, RFC 3168 ECE/CWR, RFC 3540 NS), in scapy's "FSRPAUECN" order. */
export const TCP_FLAG_LETTERS = 'FSRPAUECN';

/** Option kinds (IANA "TCP Option Kind Numbers"), by scapy's option names. */
export const TCP_OPTION_KINDS: Readonly<Record<string, number>> = {
  EOL: 0, NOP: 1, MSS: 2, WScale: 3, SAckOK: 4, SAck: 5, Timestamp: 8,
  AltChkSum: 14, AltChkSumOpt: 15, MD5: 19, UTO: 28, TFO: 34,
};

/**
 * One option as scapy writes them: a kind (name or number) and a value — a
 * number or numbers for the known formats (MSS 16 bits, WScale 8, SAck a list
 * of 32-bit edges, Timestamp two 32-bit values, UTO 16, TFO two 32-bit), or
 * raw bytes for anything else.
 */
export type TcpOptionRepr = readonly [kind: string | number, value: number | ReadonlyArray<number> | Uint8Array | string | null];

/** Encodes options and pads with zeros to a 4-octet boundary (RFC 9293 §3.1). */
export function emitTcpOptions(opts: ReadonlyArray<TcpOptionRepr>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of opts) {
    const kind = typeof k === 'number' ? k : Object.hasOwn(TCP_OPTION_KINDS, k) ? TCP_OPTION_KINDS[k] : undefined;
    if (kind === undefined) throw new TypeError(`unknown TCP option ${JSON.stringify(k)}`);
    if (kind === 0 || kind === 1) {
      parts.push(Uint8Array.of(kind));
      continue;
    }
    let data: Uint8Array;
    if (v === null) data = new Uint8Array(0);
    else if (typeof v === 'string' || v instanceof Uint8Array) data = toBytes(v);
    else {
      const nums = typeof v === 'number' ? [v] : v;
      const width = kind === 2 || kind === 28 ? 16 : kind === 3 ? 8 : kind === 14 ? -1 : 32;
      if (width === -1) data = packBits([[8, nums[0] ?? 0], [16, nums[1] ?? 0]]);
      else data = packBits(nums.map((n) => [width, n] as const));
    }
    parts.push(concat([Uint8Array.of(kind, (data.length + 2) & 0xff), data]));
  }
  const raw = concat(parts);
  return concat([raw, new Uint8Array((4 - (raw.length % 4)) % 4)]);
}

export interface TcpRepr {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** Data offset in 32-bit words; null = computed from the options. */
  dataofs: number | null;
  reserved: number;
  /** 9 flag bits, F = bit 0 … N(S) = bit 8. */
  flags: number;
  window: number;
  /** null = computed when a pseudo-header is known, else 0. */
  chksum: number | null;
  urgptr: number;
  options: ReadonlyArray<TcpOptionRepr>;
}

/** scapy's TCP() defaults: 20 → 80, SYN, window 8192, no options. */
export const TCP_DEFAULTS: TcpRepr = {
  sport: 20, dport: 80, seq: 0, ack: 0, dataofs: null, reserved: 0, flags: 0x02, window: 8192, chksum: null, urgptr: 0, options: [],
};

export function emitTcp(r: TcpRepr, payload: Uint8Array = new Uint8Array(0), pseudo: PseudoHeader | null = null): Uint8Array {
  const opts = emitTcpOptions(r.options);
  const head = packBits([
    [16, r.sport], [16, r.dport], [32, r.seq], [32, r.ack],
    [4, r.dataofs ?? 5 + opts.length / 4], [3, r.reserved], [9, r.flags],
    [16, r.window], [16, r.chksum ?? 0], [16, r.urgptr],
  ]);
  const seg = concat([head, opts, payload]);
  if (r.chksum === null && pseudo) put16(seg, 16, pseudoChecksum(pseudo, IPPROTO_TCP, seg));
  return seg;
}
