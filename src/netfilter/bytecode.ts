/**
 * nf_tables bytecode: the contract between the userspace compiler (`src/nft`)
 * and the kernel-side engine (`src/netfilter`).
 *
 * Each expression mirrors one kernel expression type and its netlink
 * attributes (include/uapi/linux/netfilter/nf_tables.h, NFTA_<EXPR>_*), with
 * the same numbers, so that `nft --debug=netlink` output can be printed from
 * it exactly and the engine can evaluate it without knowing any text.
 *
 * Conventions:
 * - Registers use the netlink numbering: 0 is the verdict register
 *   (NFT_REG_VERDICT), 1..4 the 128-bit registers (NFT_REG_1..NFT_REG_4),
 *   8..23 the 32-bit registers (NFT_REG32_00..NFT_REG32_15). libnftnl prints
 *   the number as is (`reg 1`, `reg 9`).
 * - Data (`Uint8Array`) is register memory: the bytes exactly as they sit in
 *   the kernel's registers (network order for packet fields, host order for
 *   meta keys like `mark`). Host order is little-endian, as on the x86_64 and
 *   arm64 machines the corpus was recorded on.
 * - Absent optional attributes are `undefined`, as an absent netlink attribute.
 */

// --- registers (enum nft_registers) ---
export const NFT_REG_VERDICT = 0;
export const NFT_REG_1 = 1;
export const NFT_REG_4 = 4;
export const NFT_REG32_00 = 8;
export const NFT_REG32_15 = 23;
export type Reg = number;

// --- verdicts (uapi/linux/netfilter.h NF_*, nf_tables.h NFT_*) ---
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NF_STOLEN = 2;
export const NF_QUEUE = 3;
export const NF_REPEAT = 4;
export const NFT_CONTINUE = -1;
export const NFT_BREAK = -2;
export const NFT_JUMP = -3;
export const NFT_GOTO = -4;
export const NFT_RETURN = -5;

export interface Verdict {
  /** NF_* or NFT_* code. NF_QUEUE verdicts carry the queue number in the upper 16 bits, as the kernel's. */
  code: number;
  /** Target chain for NFT_JUMP/NFT_GOTO. */
  chain?: string;
}

// --- cmp (enum nft_cmp_ops) ---
export const NFT_CMP_EQ = 0;
export const NFT_CMP_NEQ = 1;
export const NFT_CMP_LT = 2;
export const NFT_CMP_LTE = 3;
export const NFT_CMP_GT = 4;
export const NFT_CMP_GTE = 5;

// --- payload (enum nft_payload_bases, nft_payload_csum_types) ---
export const NFT_PAYLOAD_LL_HEADER = 0;
export const NFT_PAYLOAD_NETWORK_HEADER = 1;
export const NFT_PAYLOAD_TRANSPORT_HEADER = 2;
export const NFT_PAYLOAD_INNER_HEADER = 3;
export const NFT_PAYLOAD_TUN_HEADER = 4;
export const NFT_PAYLOAD_CSUM_NONE = 0;
export const NFT_PAYLOAD_CSUM_INET = 1;
export const NFT_PAYLOAD_CSUM_SCTP = 2;
export const NFT_PAYLOAD_L4CSUM_PSEUDOHDR = 1;

// --- bitwise (enum nft_bitwise_ops) ---
export const NFT_BITWISE_BOOL = 0;
export const NFT_BITWISE_LSHIFT = 1;
export const NFT_BITWISE_RSHIFT = 2;

// --- byteorder (enum nft_byteorder_ops) ---
export const NFT_BYTEORDER_NTOH = 0;
export const NFT_BYTEORDER_HTON = 1;

// --- range (enum nft_range_ops) ---
export const NFT_RANGE_EQ = 0;
export const NFT_RANGE_NEQ = 1;

// --- lookup / dynset ---
export const NFT_LOOKUP_F_INV = 1;
export const NFT_DYNSET_OP_ADD = 0;
export const NFT_DYNSET_OP_UPDATE = 1;
export const NFT_DYNSET_OP_DELETE = 2;
export const NFT_DYNSET_F_INV = 1;
export const NFT_DYNSET_F_EXPR = 2;

// --- exthdr (enum nft_exthdr_op, flags) ---
export const NFT_EXTHDR_OP_IPV6 = 0;
export const NFT_EXTHDR_OP_TCPOPT = 1;
export const NFT_EXTHDR_OP_IPV4 = 2;
export const NFT_EXTHDR_OP_SCTP = 3;
export const NFT_EXTHDR_OP_DCCP = 4;
export const NFT_EXTHDR_F_PRESENT = 1;

// --- meta keys (enum nft_meta_keys) ---
export const NFT_META = {
  LEN: 0, PROTOCOL: 1, PRIORITY: 2, MARK: 3, IIF: 4, OIF: 5, IIFNAME: 6, OIFNAME: 7,
  IIFTYPE: 8, OIFTYPE: 9, SKUID: 10, SKGID: 11, NFTRACE: 12, RTCLASSID: 13, SECMARK: 14,
  NFPROTO: 15, L4PROTO: 16, BRI_IIFNAME: 17, BRI_OIFNAME: 18, PKTTYPE: 19, CPU: 20,
  IIFGROUP: 21, OIFGROUP: 22, CGROUP: 23, PRANDOM: 24, SECPATH: 25, IIFKIND: 26, OIFKIND: 27,
  BRI_IIFPVID: 28, BRI_IIFVPROTO: 29, TIME_NS: 30, TIME_DAY: 31, TIME_HOUR: 32, SDIF: 33,
  SDIFNAME: 34, BRI_BROUTE: 35,
} as const;

// --- ct keys (enum nft_ct_keys) and directions ---
export const NFT_CT = {
  STATE: 0, DIRECTION: 1, STATUS: 2, MARK: 3, SECMARK: 4, EXPIRATION: 5, HELPER: 6,
  L3PROTOCOL: 7, SRC: 8, DST: 9, PROTOCOL: 10, PROTO_SRC: 11, PROTO_DST: 12, LABELS: 13,
  PKTS: 14, BYTES: 15, AVGPKT: 16, ZONE: 17, EVENTMASK: 18, SRC_IP: 19, DST_IP: 20,
  SRC_IP6: 21, DST_IP6: 22, ID: 23,
} as const;
export const IP_CT_DIR_ORIGINAL = 0;
export const IP_CT_DIR_REPLY = 1;

// --- nat (enum nft_nat_types, NF_NAT_RANGE_* flags from nf_nat.h) ---
export const NFT_NAT_SNAT = 0;
export const NFT_NAT_DNAT = 1;
export const NF_NAT_RANGE_MAP_IPS = 1 << 0;
export const NF_NAT_RANGE_PROTO_SPECIFIED = 1 << 1;
export const NF_NAT_RANGE_PROTO_RANDOM = 1 << 2;
export const NF_NAT_RANGE_PERSISTENT = 1 << 3;
export const NF_NAT_RANGE_PROTO_RANDOM_FULLY = 1 << 4;
export const NF_NAT_RANGE_PROTO_OFFSET = 1 << 5;
export const NF_NAT_RANGE_NETMAP = 1 << 6;

// --- reject (enum nft_reject_types) ---
export const NFT_REJECT_ICMP_UNREACH = 0;
export const NFT_REJECT_TCP_RST = 1;
export const NFT_REJECT_ICMPX_UNREACH = 2;

// --- fib (enum nft_fib_result, nft_fib_flags) ---
export const NFT_FIB_RESULT_OIF = 1;
export const NFT_FIB_RESULT_OIFNAME = 2;
export const NFT_FIB_RESULT_ADDRTYPE = 3;
export const NFTA_FIB_F_SADDR = 1 << 0;
export const NFTA_FIB_F_DADDR = 1 << 1;
export const NFTA_FIB_F_MARK = 1 << 2;
export const NFTA_FIB_F_IIF = 1 << 3;
export const NFTA_FIB_F_OIF = 1 << 4;
export const NFTA_FIB_F_PRESENT = 1 << 5;

// --- stateful object types (NFT_OBJECT_*) ---
export const NFT_OBJECT = {
  UNSPEC: 0, COUNTER: 1, QUOTA: 2, CT_HELPER: 3, LIMIT: 4, CONNLIMIT: 5, TUNNEL: 6,
  CT_TIMEOUT: 7, SECMARK: 8, CT_EXPECT: 9, SYNPROXY: 10,
} as const;

/** Source location of the text an instruction was compiled from, for errors and traces. */
export interface SourceLocation {
  file: string;
  line: number;
  /** 1-based first and last column, as nft prints them. */
  first: number;
  last: number;
}

interface ExprBase {
  /** Where the expression came from, when compiled from text; absent for bytecode from elsewhere. */
  loc?: SourceLocation;
}

export interface PayloadExpr extends ExprBase {
  type: 'payload';
  base: number;
  offset: number;
  len: number;
  /** Load form. */
  dreg?: Reg;
  /** Write form (`payload write`), with the checksum fix-up the kernel does. */
  sreg?: Reg;
  csumType?: number;
  csumOffset?: number;
  csumFlags?: number;
}
export interface CmpExpr extends ExprBase { type: 'cmp'; sreg: Reg; op: number; data: Uint8Array }
export interface BitwiseExpr extends ExprBase {
  type: 'bitwise';
  sreg: Reg;
  dreg: Reg;
  len: number;
  op: number;
  /** NFT_BITWISE_BOOL: dreg = (sreg & mask) ^ xor. */
  mask?: Uint8Array;
  xor?: Uint8Array;
  /** Shift amount for LSHIFT/RSHIFT, a 32-bit value in register memory. */
  data?: Uint8Array;
}
export interface ImmediateExpr extends ExprBase { type: 'immediate'; dreg: Reg; data?: Uint8Array; verdict?: Verdict }
export interface RangeExpr extends ExprBase { type: 'range'; sreg: Reg; op: number; from: Uint8Array; to: Uint8Array }
export interface ByteorderExpr extends ExprBase { type: 'byteorder'; sreg: Reg; dreg: Reg; op: number; len: number; size: number }
export interface LookupExpr extends ExprBase {
  type: 'lookup';
  sreg: Reg;
  /** Present for maps: where the looked-up data goes (0 = verdict map). */
  dreg?: Reg;
  set: string;
  setId?: number;
  flags: number;
}
export interface DynsetExpr extends ExprBase {
  type: 'dynset';
  op: number;
  sregKey: Reg;
  sregData?: Reg;
  set: string;
  setId?: number;
  /** Milliseconds; 0 or absent = the set's default. */
  timeout?: number;
  flags?: number;
  /** Stateful expressions attached to the element (counter, limit, quota, ...). */
  exprs?: Expr[];
}
export interface MetaExpr extends ExprBase { type: 'meta'; key: number; dreg?: Reg; sreg?: Reg }
export interface CtExpr extends ExprBase { type: 'ct'; key: number; dreg?: Reg; sreg?: Reg; dir?: number }
export interface ExthdrExpr extends ExprBase {
  type: 'exthdr';
  op: number;
  /** Extension header / option type; for IPv6 the next-header value. */
  exthdrType: number;
  offset: number;
  len: number;
  flags: number;
  dreg?: Reg;
  sreg?: Reg;
}
export interface CounterExpr extends ExprBase { type: 'counter'; packets: number; bytes: number }
export interface LimitExpr extends ExprBase {
  type: 'limit';
  rate: number;
  /** Unit in seconds (1, 60, 3600, 86400, 604800). */
  unit: number;
  burst: number;
  /** NFT_LIMIT_PKTS 0, NFT_LIMIT_PKT_BYTES 1. */
  limitType: number;
  /** NFT_LIMIT_F_INV 1 (`over`). */
  flags: number;
}
export interface QuotaExpr extends ExprBase { type: 'quota'; bytes: number; consumed: number; flags: number }
export interface ConnlimitExpr extends ExprBase { type: 'connlimit'; count: number; flags: number }
export interface LastExpr extends ExprBase { type: 'last'; msecs: number; set: number }
export interface LogExpr extends ExprBase {
  type: 'log';
  prefix?: string;
  group?: number;
  snaplen?: number;
  qthreshold?: number;
  level?: number;
  /** NF_LOG_* flags (tcpseq 1, tcpopt 2, ipopt 4, uid 8, macdecode 32). */
  flags?: number;
}
export interface RejectExpr extends ExprBase { type: 'reject'; rejectType: number; icmpCode: number }
export interface NatExpr extends ExprBase {
  type: 'nat';
  natType: number;
  family: number;
  sregAddrMin?: Reg;
  sregAddrMax?: Reg;
  sregProtoMin?: Reg;
  sregProtoMax?: Reg;
  flags?: number;
}
/** masq and redir share the kernel's attribute layout (NFTA_MASQ_*, NFTA_REDIR_*). */
export interface MasqExpr extends ExprBase { type: 'masq' | 'redir'; sregProtoMin?: Reg; sregProtoMax?: Reg; flags?: number }
export interface QueueExpr extends ExprBase { type: 'queue'; num?: number; total?: number; flags?: number; sregQnum?: Reg }
export interface ObjrefExpr extends ExprBase {
  type: 'objref';
  /** Named form: `objref type 1 name cnt1`. */
  objType?: number;
  name?: string;
  /** Map form: `objref sreg 1 set __objmap%d`. */
  sreg?: Reg;
  set?: string;
  setId?: number;
}
export interface HashExpr extends ExprBase {
  type: 'hash';
  /** NFT_HASH_JENKINS 0, NFT_HASH_SYM 1. */
  hashType: number;
  sreg?: Reg;
  dreg: Reg;
  len?: number;
  modulus: number;
  seed?: number;
  offset?: number;
}
export interface NumgenExpr extends ExprBase { type: 'numgen'; dreg: Reg; modulus: number; ngType: number; offset?: number }
export interface XfrmExpr extends ExprBase { type: 'xfrm'; key: number; dir: number; spnum: number; dreg: Reg }
export interface RtExpr extends ExprBase { type: 'rt'; key: number; dreg: Reg }
export interface OsfExpr extends ExprBase { type: 'osf'; dreg: Reg; ttl?: number; flags?: number }
export interface DupExpr extends ExprBase { type: 'dup'; sregAddr?: Reg; sregDev?: Reg }
export interface FwdExpr extends ExprBase { type: 'fwd'; sregDev: Reg; sregAddr?: Reg; nfproto?: number }
export interface SynproxyExpr extends ExprBase { type: 'synproxy'; mss: number; wscale: number; flags: number }
export interface FibExpr extends ExprBase { type: 'fib'; flags: number; result: number; dreg: Reg }
export interface SocketExpr extends ExprBase { type: 'socket'; key: number; dreg: Reg; level?: number }
export interface TproxyExpr extends ExprBase { type: 'tproxy'; family: number; sregAddr?: Reg; sregPort?: Reg }
export interface NotrackExpr extends ExprBase { type: 'notrack' }
export interface FlowOffloadExpr extends ExprBase { type: 'flow_offload'; table: string }

export type Expr =
  | PayloadExpr | CmpExpr | BitwiseExpr | ImmediateExpr | RangeExpr | ByteorderExpr | LookupExpr
  | DynsetExpr | MetaExpr | CtExpr | ExthdrExpr | CounterExpr | LimitExpr | QuotaExpr | ConnlimitExpr
  | LastExpr | LogExpr | RejectExpr | NatExpr | MasqExpr | QueueExpr | ObjrefExpr | HashExpr
  | NumgenExpr | XfrmExpr | RtExpr | OsfExpr | DupExpr | FwdExpr | SynproxyExpr | FibExpr
  | SocketExpr | TproxyExpr | NotrackExpr | FlowOffloadExpr;

export type ExprType = Expr['type'];

/** A rule as the kernel stores it: its expressions and nft's opaque userdata (comment, ...). */
export interface Rule {
  handle?: number;
  exprs: Expr[];
  /** NFTNL_UDATA_RULE_COMMENT. */
  comment?: string;
  /** The rule's text as written, for traces and `why` (nfx's addition; the kernel keeps none). */
  source?: string;
  loc?: SourceLocation;
}

// --- sets (NFT_SET_* flags, NFT_SET_ELEM_* flags) ---
export const NFT_SET_ANONYMOUS = 0x1;
export const NFT_SET_CONSTANT = 0x2;
export const NFT_SET_INTERVAL = 0x4;
export const NFT_SET_MAP = 0x8;
export const NFT_SET_TIMEOUT = 0x10;
export const NFT_SET_EVAL = 0x20;
export const NFT_SET_OBJECT = 0x40;
export const NFT_SET_CONCAT = 0x80;
export const NFT_SET_EXPR = 0x100;
export const NFT_SET_ELEM_INTERVAL_END = 0x1;
export const NFT_SET_ELEM_CATCHALL = 0x2;
/** Data type of a verdict map's values (NFT_DATA_VERDICT). */
export const NFT_DATA_VERDICT = 0xffffff00;

export interface SetElement {
  key: Uint8Array;
  /** NFTA_SET_ELEM_KEY_END: upper bound of a concatenated-range element. */
  keyEnd?: Uint8Array;
  flags: number;
  data?: Uint8Array;
  verdict?: Verdict;
  /** Object name for object maps. */
  objref?: string;
  /** Milliseconds. */
  timeout?: number;
  expiration?: number;
  exprs?: Expr[];
  comment?: string;
}

export interface SetDescriptor {
  table: string;
  name: string;
  /** Kernel-assigned id for anonymous sets referenced in the same batch (`__set%d`). */
  id?: number;
  handle?: number;
  flags: number;
  /** nft datatype id of the key (concatenations encode several, as nft does). */
  keyType: number;
  keyLen: number;
  dataType?: number;
  dataLen?: number;
  objType?: number;
  /** NFT_SET_POL_PERFORMANCE 0, NFT_SET_POL_MEMORY 1. */
  policy?: number;
  size?: number;
  /** Milliseconds. */
  timeout?: number;
  gcInterval?: number;
  /** Byte length of each field of a concatenated key (NFTA_SET_DESC_CONCAT). */
  fieldLengths?: number[];
  /** Stateful expressions every element carries (`counter` in a set declaration). */
  exprs?: Expr[];
  /** nft's userdata (key typeof expressions, comment): opaque to the engine. */
  userdata?: Record<string, unknown>;
  elements: SetElement[];
}
