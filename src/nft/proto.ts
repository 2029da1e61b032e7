/**
 * Protocol header templates, as nftables' src/proto.c describes them: each
 * field's bit offset and length inside its header, its datatype and the
 * payload base the header sits at. Also where a header comes from (its
 * dependency), which is how `tcp dport 22` gains `meta l4proto tcp`.
 */
import { NFT_PAYLOAD_LL_HEADER, NFT_PAYLOAD_NETWORK_HEADER, NFT_PAYLOAD_TRANSPORT_HEADER } from '../netfilter/bytecode.js';
import type { DatatypeName } from './datatypes.js';

export interface ProtoField {
  /** Bit offset from the start of the header. */
  offset: number;
  /** Bits. */
  len: number;
  dtype: DatatypeName;
}

export interface ProtoDesc {
  name: string;
  base: number;
  /** Byte offset of the header from its base (vlan sits 14 bytes into the link header). */
  baseOffset: number;
  fields: Record<string, ProtoField>;
  /** The layer this protocol is carried in, and the value that selects it there. */
  layer: 2 | 3 | 4;
  /** Protocol number in the enclosing layer (IPPROTO_*, ETH_P_*). */
  protoNum?: number;
}

const F = (offset: number, len: number, dtype: DatatypeName): ProtoField => ({ offset, len, dtype });

const L4 = NFT_PAYLOAD_TRANSPORT_HEADER;
const L3 = NFT_PAYLOAD_NETWORK_HEADER;
const L2 = NFT_PAYLOAD_LL_HEADER;

export const PROTOCOLS: Record<string, ProtoDesc> = {
  // IEEE 802.3
  ether: { name: 'ether', base: L2, baseOffset: 0, layer: 2, fields: { daddr: F(0, 48, 'ether_addr'), saddr: F(48, 48, 'ether_addr'), type: F(96, 16, 'ether_type') } },
  // IEEE 802.1Q tag, after the 12 address bytes and the TPID
  vlan: {
    name: 'vlan', base: L2, baseOffset: 14, layer: 2, protoNum: 0x8100,
    fields: { pcp: F(0, 3, 'integer'), dei: F(3, 1, 'integer'), cfi: F(3, 1, 'integer'), id: F(4, 12, 'integer'), type: F(16, 16, 'ether_type') },
  },
  // RFC 826
  arp: {
    name: 'arp', base: L3, baseOffset: 0, layer: 3, protoNum: 0x0806,
    fields: {
      htype: F(0, 16, 'integer'), ptype: F(16, 16, 'ether_type'), hlen: F(32, 8, 'integer'), plen: F(40, 8, 'integer'),
      operation: F(48, 16, 'arp_op'),
    },
  },
  // RFC 791
  ip: {
    name: 'ip', base: L3, baseOffset: 0, layer: 3, protoNum: 0x0800,
    fields: {
      version: F(0, 4, 'integer'), hdrlength: F(4, 4, 'integer'), dscp: F(8, 6, 'dscp'), ecn: F(14, 2, 'ecn'),
      length: F(16, 16, 'integer'), id: F(32, 16, 'integer'), 'frag-off': F(48, 16, 'integer'), ttl: F(64, 8, 'integer'),
      protocol: F(72, 8, 'inet_proto'), checksum: F(80, 16, 'integer'), saddr: F(96, 32, 'ipv4_addr'), daddr: F(128, 32, 'ipv4_addr'),
    },
  },
  // RFC 8200
  ip6: {
    name: 'ip6', base: L3, baseOffset: 0, layer: 3, protoNum: 0x86dd,
    fields: {
      version: F(0, 4, 'integer'), dscp: F(4, 6, 'dscp'), ecn: F(10, 2, 'ecn'), flowlabel: F(12, 20, 'integer'),
      length: F(32, 16, 'integer'), nexthdr: F(48, 8, 'inet_proto'), hoplimit: F(56, 8, 'integer'),
      saddr: F(64, 128, 'ipv6_addr'), daddr: F(192, 128, 'ipv6_addr'),
    },
  },
  // RFC 792
  icmp: {
    name: 'icmp', base: L4, baseOffset: 0, layer: 4, protoNum: 1,
    fields: {
      type: F(0, 8, 'icmp_type'), code: F(8, 8, 'icmp_code'), checksum: F(16, 16, 'integer'), id: F(32, 16, 'integer'),
      sequence: F(48, 16, 'integer'), gateway: F(32, 32, 'integer'), mtu: F(48, 16, 'integer'),
    },
  },
  // RFC 2236 / 3376
  igmp: {
    name: 'igmp', base: L4, baseOffset: 0, layer: 4, protoNum: 2,
    fields: { type: F(0, 8, 'igmp_type'), mrt: F(8, 8, 'integer'), checksum: F(16, 16, 'integer'), group: F(32, 32, 'integer') },
  },
  // RFC 4443
  icmpv6: {
    name: 'icmpv6', base: L4, baseOffset: 0, layer: 4, protoNum: 58,
    fields: {
      type: F(0, 8, 'icmpv6_type'), code: F(8, 8, 'icmpv6_code'), checksum: F(16, 16, 'integer'),
      'param-problem': F(32, 32, 'integer'), mtu: F(32, 32, 'integer'), id: F(32, 16, 'integer'),
      sequence: F(48, 16, 'integer'), 'max-delay': F(32, 16, 'integer'),
    },
  },
  // RFC 9293
  tcp: {
    name: 'tcp', base: L4, baseOffset: 0, layer: 4, protoNum: 6,
    fields: {
      sport: F(0, 16, 'inet_service'), dport: F(16, 16, 'inet_service'), sequence: F(32, 32, 'integer'),
      ackseq: F(64, 32, 'integer'), doff: F(96, 4, 'integer'), reserved: F(100, 4, 'integer'),
      flags: F(104, 8, 'tcp_flag'), window: F(112, 16, 'integer'), checksum: F(128, 16, 'integer'),
      urgptr: F(144, 16, 'integer'),
    },
  },
  // RFC 768
  udp: {
    name: 'udp', base: L4, baseOffset: 0, layer: 4, protoNum: 17,
    fields: { sport: F(0, 16, 'inet_service'), dport: F(16, 16, 'inet_service'), length: F(32, 16, 'integer'), checksum: F(48, 16, 'integer') },
  },
  // RFC 3828
  udplite: {
    name: 'udplite', base: L4, baseOffset: 0, layer: 4, protoNum: 136,
    fields: { sport: F(0, 16, 'inet_service'), dport: F(16, 16, 'inet_service'), csumcov: F(32, 16, 'integer'), checksum: F(48, 16, 'integer') },
  },
  // RFC 9260
  sctp: {
    name: 'sctp', base: L4, baseOffset: 0, layer: 4, protoNum: 132,
    fields: { sport: F(0, 16, 'inet_service'), dport: F(16, 16, 'inet_service'), vtag: F(32, 32, 'integer'), checksum: F(64, 32, 'integer') },
  },
  // RFC 4340 §5.1: type sits 3 bits into byte 8
  dccp: {
    name: 'dccp', base: L4, baseOffset: 0, layer: 4, protoNum: 33,
    fields: { sport: F(0, 16, 'inet_service'), dport: F(16, 16, 'inet_service'), type: F(67, 4, 'dccp_pkttype') },
  },
  // RFC 4302
  ah: {
    name: 'ah', base: L4, baseOffset: 0, layer: 4, protoNum: 51,
    fields: {
      nexthdr: F(0, 8, 'inet_proto'), hdrlength: F(8, 8, 'integer'), reserved: F(16, 16, 'integer'),
      spi: F(32, 32, 'integer'), sequence: F(64, 32, 'integer'),
    },
  },
  // RFC 4303
  esp: { name: 'esp', base: L4, baseOffset: 0, layer: 4, protoNum: 50, fields: { spi: F(0, 32, 'integer'), sequence: F(32, 32, 'integer') } },
  // RFC 3173
  comp: {
    name: 'comp', base: L4, baseOffset: 0, layer: 4, protoNum: 108,
    fields: { nexthdr: F(0, 8, 'inet_proto'), flags: F(8, 8, 'integer'), cpi: F(16, 16, 'integer') },
  },
  // nft's generic transport header: ports of any protocol that has them
  th: { name: 'th', base: L4, baseOffset: 0, layer: 4, fields: { sport: F(0, 16, 'inet_service'), dport: F(16, 16, 'inet_service') } },
};

/** arp addresses depend on `hlen`/`plen`; nft fixes them for Ethernet/IPv4. */
export const ARP_ADDR_FIELDS: Record<string, ProtoField> = {
  'saddr ether': F(64, 48, 'ether_addr'),
  'saddr ip': F(112, 32, 'ipv4_addr'),
  'daddr ether': F(144, 48, 'ether_addr'),
  'daddr ip': F(192, 32, 'ipv4_addr'),
};

export interface KeyDesc { dtype: DatatypeName; len: number; byteorder: 'big' | 'host'; id: number }
const K = (id: number, dtype: DatatypeName, len: number, byteorder: 'big' | 'host' = 'host'): KeyDesc => ({ id, dtype, len, byteorder });

/** meta keys (src/meta.c meta_templates; ids are enum nft_meta_keys). */
export const META_KEYS: Record<string, KeyDesc> = {
  length: K(0, 'integer', 32), protocol: K(1, 'ether_type', 16, 'big'), priority: K(2, 'classid', 32),
  mark: K(3, 'mark', 32), iif: K(4, 'iface_index', 32), oif: K(5, 'iface_index', 32), iifname: K(6, 'ifname', 128),
  oifname: K(7, 'ifname', 128), iiftype: K(8, 'iface_type', 16), oiftype: K(9, 'iface_type', 16),
  skuid: K(10, 'uid', 32), skgid: K(11, 'gid', 32), nftrace: K(12, 'integer', 1), rtclassid: K(13, 'realm', 32),
  secmark: K(14, 'integer', 32), nfproto: K(15, 'nf_proto', 8), l4proto: K(16, 'inet_proto', 8),
  ibrname: K(17, 'ifname', 128), obrname: K(18, 'ifname', 128), pkttype: K(19, 'pkt_type', 8), cpu: K(20, 'integer', 32),
  iifgroup: K(21, 'devgroup', 32), oifgroup: K(22, 'devgroup', 32), cgroup: K(23, 'integer', 32),
  random: K(24, 'integer', 32, 'big'), ipsec: K(25, 'boolean', 1), secpath: K(25, 'boolean', 1),
  iifkind: K(26, 'ifname', 128), oifkind: K(27, 'ifname', 128), ibrpvid: K(28, 'integer', 16), ibrvproto: K(29, 'ether_type', 16, 'big'),
  time: K(30, 'time_date', 64), day: K(31, 'day', 8), hour: K(32, 'hour', 32), sdif: K(33, 'iface_index', 32),
  sdifname: K(34, 'ifname', 128), broute: K(35, 'boolean', 1),
};

/** libnftnl's names for meta keys in debug output. */
export const META_DEBUG_NAMES = [
  'len', 'protocol', 'priority', 'mark', 'iif', 'oif', 'iifname', 'oifname', 'iiftype', 'oiftype', 'skuid',
  'skgid', 'nftrace', 'rtclassid', 'secmark', 'nfproto', 'l4proto', 'bri_iifname', 'bri_oifname', 'pkttype',
  'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'prandom', 'secpath', 'iifkind', 'oifkind', 'bri_iifpvid',
  'bri_iifvproto', 'time', 'day', 'hour', 'sdif', 'sdifname', 'bri_broute',
];

/** Meta keys nft accepts without the `meta` keyword (parser_bison.y meta_key_unqualified). */
export const META_UNQUALIFIED = new Set([
  'mark', 'iif', 'iifname', 'iiftype', 'oif', 'oifname', 'oiftype', 'skuid', 'skgid', 'nftrace',
  'rtclassid', 'ibrname', 'obrname', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'ipsec', 'time',
]);

/** ct keys (src/ct.c ct_templates; ids are enum nft_ct_keys). `addr` types depend on the family. */
export const CT_KEYS: Record<string, KeyDesc> = {
  state: K(0, 'ct_state', 32), direction: K(1, 'ct_dir', 8), status: K(2, 'ct_status', 32), mark: K(3, 'mark', 32),
  secmark: K(4, 'integer', 32), expiration: K(5, 'time', 32), helper: K(6, 'string', 128), l3proto: K(7, 'nf_proto', 8),
  saddr: K(8, 'ipv4_addr', 32, 'big'), daddr: K(9, 'ipv4_addr', 32, 'big'), protocol: K(10, 'inet_proto', 8, 'big'),
  'proto-src': K(11, 'inet_service', 16, 'big'), 'proto-dst': K(12, 'inet_service', 16, 'big'),
  label: K(13, 'ct_label', 128), packets: K(14, 'integer', 64), bytes: K(15, 'integer', 64),
  avgpkt: K(16, 'integer', 64), zone: K(17, 'integer', 16), event: K(18, 'ct_event', 32),
  id: K(23, 'integer', 32, 'big'),
};

export const CT_DEBUG_NAMES = [
  'state', 'direction', 'status', 'mark', 'secmark', 'expiration', 'helper', 'l3protocol', 'src', 'dst',
  'protocol', 'proto_src', 'proto_dst', 'label', 'packets', 'bytes', 'avgpkt', 'zone', 'event', 'src_ip',
  'dst_ip', 'src_ip6', 'dst_ip6', 'id',
];
