/**
 * The virtual host's configuration state — one Linux network namespace: links,
 * addresses, FIB tables, policy rules, neighbours and sysctls. Plain data, so the
 * store can save it and the packet path can read it without indirection.
 */
import type { Family } from './inet.js';
import type { BridgeAttrs, BridgePortAttrs } from './bridge.js';

/** Link kinds nfx models (`ip link add ... type KIND`); `loopback` is `lo`. */
export type LinkKind = 'loopback' | 'dummy' | 'veth' | 'ether' | 'bridge' | 'xfrm';

export interface Link {
  /** ifindex: `lo` is 1, then creation order (a veth's peer is registered first, as veth_newlink does). */
  index: number;
  name: string;
  kind: LinkKind;
  mac: Uint8Array;
  mtu: number;
  txqlen: number;
  /** IFF_UP: administratively up (`ip link set NAME up`). */
  up: boolean;
  /** The qdisc was attached once: iproute2 shows `noqueue` from the first up on, `noop` before. */
  everUp: boolean;
  /** veth only: the peer's ifindex. */
  peer?: number;
  /** IPv6 `addr_gen_mode`: `eui64` (0) makes fe80::EUI-64 on link-up; `none` (1) makes none. */
  addrGenMode: 'eui64' | 'none';
  /** IFLA_MASTER: the ifindex of the bridge this link is a port of (bridge.ts). */
  master?: number;
  /** kind `bridge`: IFLA_BR_* attributes (bridge.ts). */
  bridge?: BridgeAttrs;
  /** a bridge port: IFLA_BRPORT_* attributes (bridge.ts). */
  brport?: BridgePortAttrs;
  /** kind `xfrm`: struct xfrm_if_parms (IFLA_XFRM_*; path/xfrmi.ts). */
  xfrm?: XfrmiParms;
}

/** struct xfrm_if_parms (net/xfrm/xfrm_interface_core.c): what `ip link add NAME type xfrm` sets. */
export interface XfrmiParms {
  /** IFLA_XFRM_LINK: the underlying device's ifindex (0: none); the flow's oif on output. */
  link: number;
  /** IFLA_XFRM_IF_ID: the SPD/SAD if_id of traffic through the interface (0 only when external). */
  ifId: number;
  /** IFLA_XFRM_COLLECT_METADATA (`external`): one per namespace, if_id taken from the SA or the route. */
  external: boolean;
}

/** RT_SCOPE_* (include/uapi/linux/rtnetlink.h). */
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export interface IfAddr {
  family: Family;
  /** ifindex of the link. */
  dev: number;
  local: Uint8Array;
  plen: number;
  /** IPv4 peer (point-to-point) address, when given. */
  peer?: Uint8Array;
  /** IPv4 broadcast, only when given (`brd +` or `broadcast X`), as the kernel stores it. */
  broadcast?: Uint8Array;
  scope: number;
  /** IPv4 label (defaults to the device name). */
  label?: string;
  /** IFA_F_SECONDARY: an IPv4 address in the subnet of an earlier (primary) one. */
  secondary: boolean;
  nodad: boolean;
  noprefixroute: boolean;
  /** Made by the kernel (IPv6 link-local on link-up, 127.0.0.1 and ::1 on `lo` up). */
  kernel: boolean;
  /** IFA_RT_PRIORITY (`metric` on `ip addr add`): the prefix route's metric. */
  metric: number;
}

/** RTN_* route types (include/uapi/linux/rtnetlink.h). */
export type RouteType =
  | 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast'
  | 'blackhole' | 'unreachable' | 'prohibit' | 'throw';

/** RT_TABLE_* ids. */
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

/** RTPROT_* (rtnetlink.h): what installed a route. */
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;

export interface Route {
  family: Family;
  table: number;
  type: RouteType;
  dst: Uint8Array;
  plen: number;
  /** IPv4 TOS selector (0: any). */
  tos: number;
  /** RTA_PRIORITY. IPv4: 0 unless given; IPv6: 1024 for user routes, 256 for prefix routes. */
  metric: number;
  proto: number;
  scope: number;
  dev?: number;
  gateway?: Uint8Array;
  prefsrc?: Uint8Array;
  /** RTAX_MTU, 0 when not set. */
  mtu: number;
  onlink: boolean;
  /** IPv6 router preference (RFC 4191): `medium` unless given. */
  pref: 'low' | 'medium' | 'high';
  /** Insertion stamp: among equal keys the kernel keeps insertion order. */
  seq: number;
}

/** FR_ACT_* (include/uapi/linux/fib_rules.h). */
export type RuleAction = 'lookup' | 'goto' | 'nop' | 'blackhole' | 'unreachable' | 'prohibit';

export interface Rule {
  family: Family;
  priority: number;
  not: boolean;
  src?: Uint8Array;
  srcLen: number;
  dst?: Uint8Array;
  dstLen: number;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  tos: number;
  action: RuleAction;
  table: number;
  /** FRA_SUPPRESS_PREFIXLEN, -1 when not set. */
  suppressPrefixlen: number;
  /** `goto` target priority. */
  target?: number;
}

/** NUD_* states (include/uapi/linux/neighbour.h). */
export type NudState = 'PERMANENT' | 'REACHABLE' | 'STALE' | 'NOARP' | 'DELAY' | 'PROBE' | 'FAILED' | 'INCOMPLETE';

export interface Neigh {
  family: Family;
  dst: Uint8Array;
  dev: number;
  lladdr?: Uint8Array;
  state: NudState;
  router: boolean;
}

export interface Host {
  name: string;
  links: Link[];
  nextIndex: number;
  addrs: IfAddr[];
  routes: Route[];
  rules: Rule[];
  neighs: Neigh[];
  /** Sysctl values that differ from the built-in defaults, by full dotted key. */
  sysctl: Map<string, string>;
  /** Per-interface IPv4 keys written explicitly (they no longer follow `default`, as in devinet). */
  sysctlExplicit: Set<string>;
  /** IPv4 local and main tables unmerged (fib_unmerge, on any rule add or delete): lookups report `table local`. */
  customRules4: boolean;
  /**
   * fib_has_custom_rules / fib6_has_custom_rules: set when a rule is added. Until
   * then the kernel ignores the rule list and looks in local, then main.
   */
  rulesInUse: { 4: boolean; 6: boolean };
  /** FIB tables in creation order, per family (the kernel creates one on its first route and keeps it). */
  tables: { 4: number[]; 6: number[] };
  /** Insertion counter for `Route.seq`. */
  seq: number;
  /**
   * Named sections other modules own and persist with the host (`nftables`, `xfrm`,
   * `conntrack`, ...): opaque here, saved and loaded as JSON values.
   */
  sections: Record<string, unknown>;
}
