/**
 * Conntrack's data: tuples, the connection entry (struct nf_conn reduced to
 * what nfx needs) and the kernel's constants for them.
 */

/** enum ip_conntrack_info (uapi/linux/netfilter/nf_conntrack_common.h). */
export const IP_CT_ESTABLISHED = 0;
export const IP_CT_RELATED = 1;
export const IP_CT_NEW = 2;
export const IP_CT_IS_REPLY = 3;
export const IP_CT_ESTABLISHED_REPLY = 3;
export const IP_CT_RELATED_REPLY = 4;
/** The untracked template's ctinfo (IP_CT_UNTRACKED = 7). */
export const IP_CT_UNTRACKED = 7;
/** Not a kernel value: the packet met conntrack and was found invalid (skb->_nfct stays NULL). */
export const CT_INVALID = -1;

/** enum ip_conntrack_status bits (nf_conntrack_common.h). */
export const IPS_EXPECTED = 1 << 0;
export const IPS_SEEN_REPLY = 1 << 1;
export const IPS_ASSURED = 1 << 2;
export const IPS_CONFIRMED = 1 << 3;
export const IPS_SRC_NAT = 1 << 4;
export const IPS_DST_NAT = 1 << 5;
export const IPS_SEQ_ADJUST = 1 << 6;
export const IPS_SRC_NAT_DONE = 1 << 7;
export const IPS_DST_NAT_DONE = 1 << 8;
export const IPS_DYING = 1 << 9;
export const IPS_FIXED_TIMEOUT = 1 << 10;
export const IPS_TEMPLATE = 1 << 11;
export const IPS_UNTRACKED = 1 << 12;
export const IPS_HELPER = 1 << 13;
/** The connection's packets take a flowtable's fast path (IPS_OFFLOAD_BIT 14). */
export const IPS_OFFLOAD = 1 << 14;
/** Offloaded to hardware (IPS_HW_OFFLOAD_BIT 15): never here, nfx has no NIC. */
export const IPS_HW_OFFLOAD = 1 << 15;
/** A NAT clash resolved by keeping both entries (IPS_NAT_CLASH_BIT shares IPS_UNTRACKED_BIT: an untracked packet has no NAT). */
export const IPS_NAT_CLASH = IPS_UNTRACKED;

/** nft_ct.c: NF_CT_STATE_INVALID_BIT, NF_CT_STATE_UNTRACKED_BIT, NF_CT_STATE_BIT(ctinfo). */
export const NF_CT_STATE_INVALID_BIT = 1 << 0;
export const NF_CT_STATE_UNTRACKED_BIT = 1 << 6;
export function nfCtStateBit(ctinfo: number): number {
  // NF_CT_STATE_BIT(): reply-direction ctinfo folds onto its original-direction state.
  return 1 << ((ctinfo % IP_CT_IS_REPLY) + 1);
}

/** enum tcp_conntrack (uapi/linux/netfilter/nf_conntrack_tcp.h). */
export const TCP_CONNTRACK_NONE = 0;
export const TCP_CONNTRACK_SYN_SENT = 1;
export const TCP_CONNTRACK_SYN_RECV = 2;
export const TCP_CONNTRACK_ESTABLISHED = 3;
export const TCP_CONNTRACK_FIN_WAIT = 4;
export const TCP_CONNTRACK_CLOSE_WAIT = 5;
export const TCP_CONNTRACK_LAST_ACK = 6;
export const TCP_CONNTRACK_TIME_WAIT = 7;
export const TCP_CONNTRACK_CLOSE = 8;
export const TCP_CONNTRACK_SYN_SENT2 = 9;
export const TCP_CONNTRACK_MAX = 10;
export const TCP_CONNTRACK_IGNORE = 11;
export const TCP_CONNTRACK_NAMES = [
  'NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2',
];

/** Manipulation types (enum nf_nat_manip_type). */
export const NF_NAT_MANIP_SRC = 0;
export const NF_NAT_MANIP_DST = 1;

/**
 * One direction of a connection (struct nf_conntrack_tuple). Addresses are
 * 16 bytes, IPv4 in the first four. For TCP/UDP/SCTP/DCCP the ports; for
 * ICMP/ICMPv6 `srcPort` is the echo id and `dstPort` the type (high byte) and
 * code (low byte), as the kernel's `dst.u.icmp` overlays `dst.u.all`; 0 for
 * the generic tracker.
 */
export interface Tuple {
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
}

export function newTuple(): Tuple {
  return { src: new Uint8Array(16), dst: new Uint8Array(16), srcPort: 0, dstPort: 0 };
}

export function copyTuple(to: Tuple, from: Tuple): void {
  to.src.set(from.src);
  to.dst.set(from.dst);
  to.srcPort = from.srcPort;
  to.dstPort = from.dstPort;
}

export function sameTuple(a: Tuple, b: Tuple, alen: number): boolean {
  if (a.srcPort !== b.srcPort || a.dstPort !== b.dstPort) return false;
  for (let i = 0; i < alen; i++) if (a.src[i] !== b.src[i] || a.dst[i] !== b.dst[i]) return false;
  return true;
}

/** struct ip_ct_tcp_state: one side's window as the TCP tracker sees it. */
export interface TcpSide {
  end: number;
  maxend: number;
  maxwin: number;
  scale: number;
  /** IP_CT_TCP_FLAG_* */
  flags: number;
  maxack: number;
}

/** struct ip_ct_tcp. */
export interface TcpState {
  state: number;
  seen: [TcpSide, TcpSide];
  lastDir: number;
  lastIndex: number;
  lastSeq: number;
  lastAck: number;
  lastEnd: number;
  lastWin: number;
  lastWscale: number;
  lastFlags: number;
  retrans: number;
}

/** struct nf_ct_seqadj: one direction's TCP sequence correction after a NAT helper changed a length (seqadj.ts). */
export interface SeqAdjDir {
  correctionPos: number;
  offsetBefore: number;
  offsetAfter: number;
}

/** One conntrack entry (struct nf_conn). `tuple[0]` original, `tuple[1]` reply. */
export interface Conn {
  /** Slot in the table's entry array; packets refer to it through meta.ctSlot. */
  slot: number;
  /** ctnetlink id (`ct id`). */
  id: number;
  family: 2 | 10;
  proto: number;
  zone: number;
  tuple: [Tuple, Tuple];
  status: number;
  /** Absolute expiry time on the table's clock, ms. */
  timeoutAt: number;
  mark: number;
  secmark: number;
  labels: Uint8Array;
  /** Packets and bytes per direction (nf_conn_acct, counted at layer 3). */
  packets: [number, number];
  bytes: [number, number];
  tcp: TcpState | null;
  /** The helper's name ('' = none) and the master connection's slot for expected connections (-1). */
  helper: string;
  master: number;
  /** Monotonic serial used by the listing order and early drop. */
  serial: number;
  /** UDP: until when the entry counts as not yet a stream (ct->proto.udp.stream_ts), ms. */
  streamTs: number;
  /** An expected connection of a NATed master follows the master's NAT (nf_nat_follow_master): the saved port, -1 = no. */
  natFollowPort: number;
  /** Which of the master's tuples nf_nat_follow_master maps from (the kernel's !exp->dir); absent = 0 (tftp). */
  natFollowTuple?: number;
  /**
   * The ftp helper's struct nf_ct_ftp_master: per direction, the sequence numbers
   * just after a line end it has seen (up to NUM_SEQ_TO_REMEMBER, 2). Absent until
   * the helper sees data.
   */
  ftpSeqAftNl?: [number[], number[]];
  /** The NF_CT_EXT_SEQADJ extension, [original, reply]; absent until a helper changes a payload's length. */
  seqadj?: [SeqAdjDir, SeqAdjDir];
  /** NAT: the interface masquerade picked the address from (nf_conn_nat.masq_index), 0 = none. */
  masqIndex: number;
}
