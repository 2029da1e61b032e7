/**
 * What the engine asks of the host it runs in. Expressions that need routes,
 * sockets, conntrack, NAT, xfrm or packet emission call these; the host issue
 * implements them, tests use a double. Every method that loads into a register
 * writes into `regs` (the register file's bytes) at byte offset `off` and
 * returns false when the kernel expression would break the rule (NFT_BREAK),
 * e.g. no conntrack entry, no socket, no route.
 */
import type { Packet } from '../packet/packet.js';
import type { LogExpr } from './bytecode.js';

/** A network device as `meta iif*`/`oif*` see it. */
export interface NetDevice {
  ifindex: number;
  name: string;
  /** ARPHRD_* (uapi/linux/if_arp.h): 1 ether, 772 loopback. */
  type: number;
  group: number;
  /** rtnl link kind ("veth", "dummy", ...), '' for none. */
  kind: string;
  /** The ifindex of the bridge this device is a port of (netdev_master_upper_dev_get), when it is one. */
  master?: number;
}

/** The socket a packet belongs to or would be delivered to (`meta skuid`, `socket ...`). */
export interface SocketInfo {
  uid: number;
  gid: number;
  mark: number;
  transparent: boolean;
  wildcard: boolean;
  cgroupv2?: bigint;
}

export interface NatRequest {
  /** NFT_NAT_SNAT 0, NFT_NAT_DNAT 1; masquerade is snat with `masq`, redirect dnat with `redir`. */
  natType: number;
  kind: 'nat' | 'masq' | 'redir';
  family: number;
  addrMin?: Uint8Array;
  addrMax?: Uint8Array;
  /** Ports in host order. */
  protoMin?: number;
  protoMax?: number;
  flags: number;
}

export interface HostServices {
  device(ifindex: number): NetDevice | undefined;
  /** The local socket of the packet (output) or the one it would reach (input); undefined when none. */
  socket(pkt: Packet, family: number): SocketInfo | undefined;
  /** `ct KEY [DIR]` load; false when the packet has no conntrack entry or the key is absent. */
  ctLoad(pkt: Packet, key: number, dir: number | undefined, regs: Uint8Array, off: number): boolean;
  /** `ct KEY set`: writes `len` bytes from regs. */
  ctStore(pkt: Packet, key: number, dir: number | undefined, regs: Uint8Array, off: number, len: number): void;
  /** `notrack`: the packet gets the untracked template. */
  notrack(pkt: Packet): void;
  /**
   * `flow add @name` (nft_flow_offload_eval): offloads the packet's connection to
   * flowtable `name` of table (family, table); false when it does not qualify (the rule breaks).
   */
  flowOffload(pkt: Packet, pf: number, family: number, table: string, name: string): boolean;
  /** Sets up NAT for the packet's connection; returns the verdict (NF_ACCEPT or NF_DROP). */
  nat(pkt: Packet, req: NatRequest): number;
  /** Emits the reject reply (ICMP/ICMPv6 error or TCP RST). The packet is then dropped by the caller. */
  reject(pkt: Packet, family: number, rejectType: number, icmpCode: number): void;
  /** `fib`: the FIB lookup; false = break (e.g. no route for `oif` without `present`). */
  fib(pkt: Packet, family: number, hook: number, flags: number, result: number, regs: Uint8Array, off: number): boolean;
  /** `rt KEY`. */
  rt(pkt: Packet, family: number, key: number, regs: Uint8Array, off: number): boolean;
  /** `ipsec in|out [spnum N] KEY`. */
  xfrm(pkt: Packet, dir: number, spnum: number, key: number, regs: Uint8Array, off: number): boolean;
  /** `log`. */
  log(pkt: Packet, family: number, hook: number, e: LogExpr): void;
  /** Whether a userspace listener is bound to queue `num` (nfnetlink_queue). */
  queueListener(num: number): boolean;
  /** Hands the packet to queue `num` (after the verdict NF_QUEUE). */
  dup(pkt: Packet, family: number, addr: Uint8Array | undefined, oif: number | undefined): void;
  fwd(pkt: Packet, oif: number, addr: Uint8Array | undefined, nfproto: number | undefined): void;
  /** `tproxy`: assigns a transparent socket; false = break. */
  tproxy(pkt: Packet, family: number, addr: Uint8Array | undefined, port: number | undefined): boolean;
  /** `synproxy`: returns the verdict. */
  synproxy(pkt: Packet, mss: number, wscale: number, flags: number): number;
  /** `osf`: writes the OS genre name (NFT_OSF_MAXGENRELEN 16 bytes); false when unknown. */
  osf(pkt: Packet, ttl: number, flags: number, regs: Uint8Array, off: number): boolean;
  /** Number of connections matching the packet's conntrack key in this connlimit's list, counting this one; -1 = no ct. */
  connlimitCount(pkt: Packet, list: object): number;
  /**
   * `meta ibrpvid` / `meta ibrvproto` (nft_meta_bridge): the PVID of bridge port `ifindex` and its
   * bridge's VLAN protocol (ETH_P_8021Q), when the port's bridge filters VLANs; undefined = break.
   */
  bridgePortVlan(ifindex: number): { pvid: number; proto: number } | undefined;
  /** Cgroup v2 id / secmark / classid for `meta cgroup`, `meta secmark`, `meta rtclassid`; undefined = break. */
  metaExtra(pkt: Packet, key: number): number | undefined;
}

/**
 * A host with nothing: no devices, no sockets, no conntrack. Loads break the
 * rule, NAT accepts without rewriting, reject only drops. Used when the engine
 * runs alone and as a base for test doubles.
 */
export class NullHostServices implements HostServices {
  devices = new Map<number, NetDevice>();
  queues = new Set<number>();
  rejects: Array<{ family: number; rejectType: number; icmpCode: number }> = [];
  logs: LogExpr[] = [];
  device(ifindex: number): NetDevice | undefined { return this.devices.get(ifindex); }
  socket(_pkt: Packet, _family: number): SocketInfo | undefined { return undefined; }
  ctLoad(_pkt: Packet, _key: number, _dir: number | undefined, _regs: Uint8Array, _off: number): boolean { return false; }
  ctStore(_pkt: Packet, _key: number, _dir: number | undefined, _regs: Uint8Array, _off: number, _len: number): void {}
  notrack(_pkt: Packet): void {}
  flowOffload(_pkt: Packet, _pf: number, _family: number, _table: string, _name: string): boolean { return false; }
  nat(_pkt: Packet, _req: NatRequest): number { return 1; }
  reject(_pkt: Packet, family: number, rejectType: number, icmpCode: number): void { this.rejects.push({ family, rejectType, icmpCode }); }
  fib(_pkt: Packet, _family: number, _hook: number, _flags: number, _result: number, _regs: Uint8Array, _off: number): boolean { return false; }
  rt(_pkt: Packet, _family: number, _key: number, _regs: Uint8Array, _off: number): boolean { return false; }
  xfrm(_pkt: Packet, _dir: number, _spnum: number, _key: number, _regs: Uint8Array, _off: number): boolean { return false; }
  log(_pkt: Packet, _family: number, _hook: number, e: LogExpr): void { this.logs.push(e); }
  queueListener(num: number): boolean { return this.queues.has(num); }
  dup(_pkt: Packet, _family: number, _addr: Uint8Array | undefined, _oif: number | undefined): void {}
  fwd(_pkt: Packet, _oif: number, _addr: Uint8Array | undefined, _nfproto: number | undefined): void {}
  tproxy(_pkt: Packet, _family: number, _addr: Uint8Array | undefined, _port: number | undefined): boolean { return false; }
  synproxy(_pkt: Packet, _mss: number, _wscale: number, _flags: number): number { return 1; }
  osf(_pkt: Packet, _ttl: number, _flags: number, _regs: Uint8Array, _off: number): boolean { return false; }
  connlimitCount(_pkt: Packet, _list: object): number { return -1; }
  metaExtra(_pkt: Packet, _key: number): number | undefined { return undefined; }
  bridgePortVlan(_ifindex: number): { pvid: number; proto: number } | undefined { return undefined; }
}
