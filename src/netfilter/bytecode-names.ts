/**
 * Names and number formats shared by the bytecode printer and parser: the
 * libnftnl *2str tables (indexes are the uapi enum values), register data as
 * 32-bit little-endian words, verdict names.
 */
import type { Verdict } from './bytecode.js';
import { NF_ACCEPT, NF_DROP, NF_STOLEN, NF_QUEUE, NF_REPEAT, NFT_CONTINUE, NFT_BREAK, NFT_JUMP, NFT_GOTO, NFT_RETURN } from './bytecode.js';

// --- name tables (libnftnl's *2str arrays; the numbers are the uapi enums) ---

/** enum nft_meta_keys → libnftnl meta_key2str. */
export const META_KEY_NAMES: readonly string[] = [
  'len', 'protocol', 'priority', 'mark', 'iif', 'oif', 'iifname', 'oifname', 'iiftype', 'oiftype',
  'skuid', 'skgid', 'nftrace', 'rtclassid', 'secmark', 'nfproto', 'l4proto', 'bri_iifname',
  'bri_oifname', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'prandom', 'secpath', 'iifkind',
  'oifkind', 'bri_iifpvid', 'bri_iifvproto', 'time', 'day', 'hour', 'sdif', 'sdifname', 'broute',
];
/** enum nft_ct_keys → libnftnl ctkey2str. */
export const CT_KEY_NAMES: readonly string[] = [
  'state', 'direction', 'status', 'mark', 'secmark', 'expiration', 'helper', 'l3protocol', 'src', 'dst',
  'protocol', 'proto_src', 'proto_dst', 'label', 'packets', 'bytes', 'avgpkt', 'zone', 'event',
  'src_ip', 'dst_ip', 'src_ip6', 'dst_ip6', 'id',
];
export const CT_DIR_NAMES = ['original', 'reply'];
export const CMP_OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'];
export const RANGE_OPS = ['eq', 'neq'];
export const BYTEORDER_OPS = ['ntoh', 'hton'];
/** enum nft_payload_bases → libnftnl base2str ("%s header"). */
export const PAYLOAD_BASES = ['link', 'network', 'transport', 'inner', 'tunnel'];
export const DYNSET_OPS = ['add', 'update', 'delete'];
/** enum nft_rt_keys. */
export const RT_KEY_NAMES: readonly string[] = ['classid', 'nexthop4', 'nexthop6', 'tcpmss', 'ipsec'];
/** enum nft_socket_keys. */
export const SOCKET_KEY_NAMES: readonly string[] = ['transparent', 'mark', 'wildcard', 'cgroupv2'];
/** enum nft_xfrm_keys (NFT_XFRM_KEY_UNSPEC is 0). */
export const XFRM_KEY_NAMES: readonly string[] = ['unspec', 'daddr4', 'daddr6', 'saddr4', 'saddr6', 'reqid', 'spi'];
/** XFRM_POLICY_IN 0, XFRM_POLICY_OUT 1 (uapi/linux/xfrm.h). */
export const XFRM_DIR_NAMES = ['in', 'out'];
/** enum nft_fib_result. */
export const FIB_RESULTS = ['unspec', 'oif', 'oifname', 'type'];
export const FIB_FLAG_NAMES: Array<[number, string]> = [[1, 'saddr'], [2, 'daddr'], [4, 'mark'], [8, 'iif'], [16, 'oif']];
export const NFTA_FIB_F_PRESENT = 32;
/** NFPROTO_* → libnftnl nftnl_family2str. */
export const FAMILY_NAMES: Record<number, string> = { 0: 'unspec', 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };
/** NF_LOG_* flags (uapi/linux/netfilter/nf_log.h), in libnftnl's print order. */
export const LOG_FLAG_NAMES: Array<[number, string]> = [[0x01, 'tcpseq'], [0x02, 'tcpopt'], [0x04, 'ipopt'], [0x08, 'uid'], [0x20, 'macdecode']];
/** NFT_QUEUE_FLAG_BYPASS 1, NFT_QUEUE_FLAG_CPU_FANOUT 2. */
export const QUEUE_FLAG_BYPASS = 1;
export const QUEUE_FLAG_FANOUT = 2;
/** libnftnl limit get_time(): unit seconds folded into the largest whole unit. */
export const LIMIT_UNITS: Array<[number, string]> = [[60, 'minute'], [60, 'hour'], [24, 'day'], [7, 'week']];

export function nameOf(table: readonly string[], n: number): string {
  return table[n] ?? 'unknown';
}
export function indexOf(table: readonly string[], name: string, what: string): number {
  const i = table.indexOf(name);
  if (i < 0) throw new SyntaxError(`unknown ${what} '${name}'`);
  return i;
}
export function familyNumber(name: string): number {
  for (const [n, s] of Object.entries(FAMILY_NAMES)) if (s === name) return Number(n);
  throw new SyntaxError(`unknown family '${name}'`);
}

// --- data words ---

/** The 32-bit words libnftnl prints for register data, without prefix. */
export function dataWords(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    const w = ((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>> 0;
    out.push(w.toString(16).padStart(8, '0'));
  }
  return out;
}
/** Register data printed as libnftnl does, with a trailing blank after each word. */
export function printData(bytes: Uint8Array, prefix = '0x'): string {
  let s = '';
  for (const w of dataWords(bytes)) s += prefix + w + ' ';
  return s;
}
/** Words (with or without 0x) back to register bytes, little-endian. */
export function wordsToBytes(words: readonly string[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  words.forEach((w, i) => {
    const hex = w.startsWith('0x') ? w.slice(2) : w;
    if (!/^[0-9a-f]{1,8}$/i.test(hex)) throw new SyntaxError(`bad data word '${w}'`);
    const v = parseInt(hex, 16);
    out[i * 4] = v & 0xff;
    out[i * 4 + 1] = (v >>> 8) & 0xff;
    out[i * 4 + 2] = (v >>> 16) & 0xff;
    out[i * 4 + 3] = (v >>> 24) & 0xff;
  });
  return out;
}

// --- verdicts ---

/** libnftnl nftnl_verdict2str. */
export function verdictName(code: number): string {
  switch (code) {
    case NF_ACCEPT: return 'accept';
    case NF_DROP: return 'drop';
    case NF_STOLEN: return 'stolen';
    case NF_QUEUE: return 'queue';
    case NF_REPEAT: return 'repeat';
    case 5: return 'stop'; // NF_STOP
    case NFT_RETURN: return 'return';
    case NFT_JUMP: return 'jump';
    case NFT_GOTO: return 'goto';
    case NFT_CONTINUE: return 'continue';
    case NFT_BREAK: return 'break';
    default: return 'unknown';
  }
}
export const VERDICT_CODES: Record<string, number> = {
  accept: NF_ACCEPT, drop: NF_DROP, stolen: NF_STOLEN, queue: NF_QUEUE, repeat: NF_REPEAT, stop: 5,
  return: NFT_RETURN, jump: NFT_JUMP, goto: NFT_GOTO, continue: NFT_CONTINUE, break: NFT_BREAK,
};
export function printVerdict(v: Verdict): string {
  return verdictName(v.code) + ' ' + (v.chain !== undefined ? `-> ${v.chain} ` : '');
}

