/**
 * The engine's view of the host (HostServices): devices, the FIB for `fib`
 * and `rt`, reject built as nf_reject_ipv4/ipv6 build it, log, dup and fwd.
 * Packets made while a chain runs are queued on the path and sent once the
 * hook returns (the VM is not re-entrant, and the kernel too sends them from
 * the hook's own context after building them).
 */
import type { Packet } from '../packet/packet.js';
import type { HostServices, NatRequest, NetDevice, SocketInfo } from '../netfilter/host-services.js';
import type { LogExpr } from '../netfilter/bytecode.js';
import {
  NFT_REJECT_ICMP_UNREACH, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_TCP_RST, NFT_FIB_RESULT_ADDRTYPE, NFT_FIB_RESULT_OIF,
  NFT_FIB_RESULT_OIFNAME, NFTA_FIB_F_DADDR, NFTA_FIB_F_IIF, NFTA_FIB_F_OIF, NFTA_FIB_F_PRESENT, NFTA_FIB_F_MARK,
} from '../netfilter/bytecode.js';
import type { Host, Link } from './types.js';
import { linkByIndex } from './links.js';
import { route } from './fib.js';
import { equalAddr } from './inet.js';
import { sysctlInt } from './sysctl.js';
import { tcp4Reset, tcp6Reset } from './path/build.js';
import { ICMP_DEST_UNREACH, ICMPV6_DEST_UNREACH } from './path/icmp-error.js';
import type { HostPath } from './path/walk.js';
import { icmpSend4, icmpSend6 } from './path/icmp-send.js';
import { bridgeReject, netdevReject } from './path/bridge-reject.js';
import { xfrmKeyLoad } from './path/xfrm-expr.js';
import { bundleOf } from './path/xfrm-flow.js';
import { flowOffload } from './path/flowtable.js';
import { ETH_P_8021Q, portVlanGroup, vlanFiltering } from './bridge-vlan.js';
import { connlimitCount, ctLoad, ctStore, notrack as ctNotrack } from '../netfilter/conntrack/index.js';
import { natSetup } from '../netfilter/nat/index.js';
import type { NatEnv } from '../netfilter/nat/index.js';

/** ARPHRD_* (uapi/linux/if_arp.h). */
const ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772;
/** enum nft_rt_keys (uapi/linux/netfilter/nf_tables.h): NFT_RT_XFRM. */
const NFT_RT_XFRM = 4;
/** NF_INET_LOCAL_IN: a reject there answers a packet that was ours (icmp_send's RTCF_LOCAL case). */
const HOOK_INPUT = 1;

/** NFT_REJECT_ICMPX_* → ICMP and ICMPv6 codes (nft_reject_icmp_code / nft_reject_icmpv6_code). */
const ICMPX_V4 = [0 /* NET_UNREACH */, 3 /* PORT_UNREACH */, 1 /* HOST_UNREACH */, 13 /* PKT_FILTERED */];
const ICMPX_V6 = [0 /* NOROUTE */, 4 /* PORT_UNREACH */, 3 /* ADDR_UNREACH */, 1 /* ADM_PROHIBITED */];

/** RTN_* (uapi/linux/rtnetlink.h) for `fib ... type`. */
const RTN: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8 };

function putU32(regs: Uint8Array, off: number, v: number): void {
  // Registers hold host-order words; nfx runs on little-endian hosts (x86-64, arm64).
  regs[off] = v & 0xff; regs[off + 1] = (v >>> 8) & 0xff; regs[off + 2] = (v >>> 16) & 0xff; regs[off + 3] = (v >>> 24) & 0xff;
}

export class PathServices implements HostServices {
  constructor(private readonly path: HostPath) {}

  private get host(): Host { return this.path.host; }

  /**
   * The device as the engine sees it: one object per link, made again only
   * when the link changed (renamed, enslaved): `meta iifname`/`oifname` ask
   * for it several times per packet. Callers only read it.
   */
  device(ifindex: number): NetDevice | undefined {
    const links = this.path.host.links;
    const c = this.devices[ifindex];
    // Still the link at the remembered position, unchanged: what linkByIndex would find (ifindexes are unique).
    if (c !== undefined && links[c.pos] === c.link && c.link.index === ifindex && c.dev.name === c.link.name &&
      c.dev.master === c.link.master && c.kind === c.link.kind) return c.dev;
    // A plain loop, not findIndex: a callback capturing `ifindex` makes every call, hits included, allocate its context.
    let pos = 0;
    while (pos < links.length && links[pos]!.index !== ifindex) pos++;
    if (pos === links.length) return undefined;
    const l = links[pos]!;
    const d: NetDevice = { ifindex: l.index, name: l.name, type: l.kind === 'loopback' ? ARPHRD_LOOPBACK : ARPHRD_ETHER, group: 0, kind: l.kind === 'ether' || l.kind === 'loopback' ? '' : l.kind };
    if (l.master !== undefined) d.master = l.master;
    this.devices[ifindex] = { link: l, pos, kind: l.kind, dev: d };
    return d;
  }

  private readonly devices: Array<{ link: Link; pos: number; kind: Link['kind']; dev: NetDevice } | undefined> = [];

  socket(_pkt: Packet, _family: number): SocketInfo | undefined { return undefined; }
  ctLoad(pkt: Packet, key: number, dir: number | undefined, regs: Uint8Array, off: number): boolean {
    const ct = this.path.ct;
    return ct ? ctLoad(ct, pkt, key, dir, regs, off) : false;
  }
  ctStore(pkt: Packet, key: number, dir: number | undefined, regs: Uint8Array, off: number, len: number): void {
    const ct = this.path.ct;
    if (ct) ctStore(ct, pkt, key, dir, regs, off, len);
  }
  flowOffload(pkt: Packet, pf: number, family: number, table: string, name: string): boolean {
    return flowOffload(this.path, pkt, pf, family, table, name);
  }

  notrack(pkt: Packet): void {
    const ct = this.path.ct;
    if (ct) ctNotrack(ct, pkt);
  }
  /** nft_nat/nft_masq/nft_redir: bind the new connection (nf_nat_setup_info) through the NAT engine. */
  nat(pkt: Packet, req: NatRequest): number {
    const ct = this.path.ct;
    if (!ct) return 1;
    return natSetup(ct, pkt, req, this.path.currentHook, this.natEnv);
  }

  private readonly natEnv: NatEnv = {
    // nf_nat_masquerade_ipv4(): the source the route to the next hop would pick on the out interface.
    masqueradeAddress: (pkt, oif, family) => {
      const dev = linkByIndex(this.host, oif);
      if (!dev) return undefined;
      const n = pkt.networkHeader;
      const v6 = family === 10;
      const daddr = v6 ? pkt.buffer.slice(n + 24, n + 40) : pkt.buffer.slice(n + 16, n + 20);
      const rt = route(this.host, { family: v6 ? 6 : 4, daddr, oif: dev.name });
      const src = rt.src;
      if (!src) return undefined;
      return this.host.addrs.some((a) => a.dev === dev.index && equalAddr(a.local, src)) ? src
        : this.host.addrs.find((a) => a.dev === dev.index && a.family === (v6 ? 6 : 4))?.local;
    },
    // nf_nat_redirect_ipv4(): the first address of the input interface.
    redirectAddress: (_pkt, iif, family) =>
      this.host.addrs.find((a) => a.dev === iif && a.family === (family === 10 ? 6 : 4) && (family !== 10 || a.scope === 0))?.local,
  };

  /**
   * nft_reject_inet_eval → nf_send_reset / nf_send_unreach (and their IPv6
   * twins). The reset spoofs the original destination as its source; the
   * unreachable goes through icmp_send, so its source, checks and rate limit
   * are those of any ICMP error.
   */
  reject(pkt: Packet, family: number, rejectType: number, icmpCode: number): void {
    const hook = this.path.currentHook;
    // A bridge table's reject is nft_reject_bridge: MACs swapped, back out the port, no IP routing.
    if (family === 7) { bridgeReject(this.path, pkt, rejectType, icmpCode); return; }
    // A netdev table's reject is nft_reject_netdev: the same replies, straight back out the device.
    if (family === 5) { netdevReject(this.path, pkt, rejectType, icmpCode); return; }
    const copy = pkt.clone();
    copy.head = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
    const v6 = family === 10 || (family !== 2 && copy.protocol === 0x86dd);
    const link = pkt.meta.iif ? linkByIndex(this.host, pkt.meta.iif) : undefined;
    if (rejectType === NFT_REJECT_TCP_RST) {
      if (copy.l4proto !== 6 || copy.transportHeader < 0) return;
      const l3 = copy.data;
      const th = copy.transportHeader - copy.head;
      // nf_send_reset(): never a reset for a reset.
      if (l3[th + 13]! & 0x04) return;
      const reply = v6
        ? tcp6Reset(l3, th, 64)
        : tcp4Reset(l3, th, { tos: 0, ttl: sysctlInt(this.host, 'net.ipv4.ip_default_ttl') || 64, id: 0, df: true });
      this.path.step('generate', 'reject with tcp reset: a reset from the original destination');
      this.path.queueOutput(reply, 'reject with tcp reset', pkt);
      return;
    }
    let code = icmpCode;
    if (rejectType === NFT_REJECT_ICMPX_UNREACH) code = (v6 ? ICMPX_V6 : ICMPX_V4)[icmpCode] ?? 0;
    else if (rejectType !== NFT_REJECT_ICMP_UNREACH) return;
    const toUs = hook === HOOK_INPUT;
    this.path.queueAction(() => {
      if (v6) icmpSend6(this.path, copy, link, ICMPV6_DEST_UNREACH, code, 0);
      else icmpSend4(this.path, copy, link, ICMP_DEST_UNREACH, code, 0, toUs);
    });
  }

  /** nft_fib4_eval / nft_fib6_eval: a FIB lookup for the packet's source or destination. */
  fib(pkt: Packet, family: number, _hook: number, flags: number, result: number, regs: Uint8Array, off: number): boolean {
    const v6 = family === 10 || (family !== 2 && pkt.protocol === 0x86dd);
    const n = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
    const b = pkt.buffer;
    const src = v6 ? b.slice(n + 8, n + 24) : b.slice(n + 12, n + 16);
    const dst = v6 ? b.slice(n + 24, n + 40) : b.slice(n + 16, n + 20);
    const useDaddr = (flags & NFTA_FIB_F_DADDR) !== 0;
    const addr = useDaddr ? dst : src;
    const oifIndex = flags & NFTA_FIB_F_IIF ? pkt.meta.iif : flags & NFTA_FIB_F_OIF ? pkt.meta.oif : 0;
    const oifLink = oifIndex ? linkByIndex(this.host, oifIndex) : undefined;
    if (result === NFT_FIB_RESULT_ADDRTYPE) {
      // inet_dev_addr_type(): the address's type in the local table, else by FIB.
      const rt = route(this.host, { family: v6 ? 6 : 4, daddr: addr });
      let t = rt.errno !== undefined ? RTN['unreachable']! : RTN[rt.type] ?? 1;
      if (v6 && this.host.addrs.some((a) => a.family === 6 && equalAddr(a.local, addr))) t = RTN['local']!;
      if (oifLink && t === RTN['local'] && !this.host.addrs.some((a) => a.dev === oifLink.index && equalAddr(a.local, addr))) t = RTN['unicast']!;
      putU32(regs, off, t);
      return true;
    }
    const flow = { family: v6 ? 6 as const : 4 as const, daddr: addr, saddr: useDaddr ? src : dst, ...(flags & NFTA_FIB_F_MARK ? { mark: pkt.meta.mark } : {}) };
    // The reverse lookup as if the packet came in on the interface (flowi4_iif = input device).
    const iifLink = pkt.meta.iif ? linkByIndex(this.host, pkt.meta.iif) : undefined;
    const rt = route(this.host, iifLink && !useDaddr ? { ...flow, iif: iifLink.name } : flow);
    let found: Link | undefined;
    if (rt.errno === undefined && (rt.type === 'unicast' || rt.type === 'broadcast' || rt.type === 'multicast' || (rt.type === 'local' && useDaddr))) {
      found = rt.type === 'local' ? undefined : rt.dev;
      if (oifLink && found && found.index !== oifLink.index) found = undefined;
      if (rt.type === 'local' && useDaddr) found = oifLink ?? iifLink;
    }
    if (flags & NFTA_FIB_F_PRESENT) { putU32(regs, off, found ? 1 : 0); return true; }
    if (result === NFT_FIB_RESULT_OIF) { putU32(regs, off, found ? found.index : 0); return true; }
    if (result === NFT_FIB_RESULT_OIFNAME) {
      regs.fill(0, off, off + 16);
      if (found) for (let i = 0; i < found.name.length && i < 15; i++) regs[off + i] = found.name.charCodeAt(i);
      return true;
    }
    return false;
  }

  /**
   * nft_rt_get_eval(): `rt ipsec` (NFT_RT_XFRM) says whether the packet's
   * route is an IPsec bundle (skb_dst(skb)->xfrm): true for a packet the SPD
   * chose to protect, from the routing decision up to its transformation;
   * the ESP packet made from it has a plain route again. The other keys
   * (classid, nexthop, tcpmss) are not modelled and break the rule.
   */
  rt(pkt: Packet, _family: number, key: number, regs: Uint8Array, off: number): boolean {
    if (key !== NFT_RT_XFRM) return false;
    // nft_reg_store8(): the byte, with the rest of the 32-bit register cleared.
    putU32(regs, off, bundleOf(pkt) !== undefined ? 1 : 0);
    return true;
  }
  /** nft_xfrm: `ipsec in` reads the secpath entry `spnum`, `ipsec out` the output bundle's (xfrm-expr.ts). */
  xfrm(pkt: Packet, dir: number, spnum: number, key: number, regs: Uint8Array, off: number): boolean {
    return xfrmKeyLoad(pkt, dir, spnum, key, regs, off);
  }

  log(_pkt: Packet, _family: number, hook: number, e: LogExpr): void {
    const prefix = (e as { prefix?: string }).prefix;
    this.path.step('hook', `log${prefix ? ` prefix "${prefix}"` : ''} (hook ${hook})`);
  }

  queueListener(_num: number): boolean { return false; }

  dup(pkt: Packet, _family: number, _addr: Uint8Array | undefined, oif: number | undefined): void {
    const dev = oif !== undefined ? linkByIndex(this.host, oif) : undefined;
    if (!dev) return;
    const c = pkt.clone();
    c.head = pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head;
    this.path.queueTransmit(c, dev);
  }

  fwd(pkt: Packet, oif: number, addr: Uint8Array | undefined, nfproto: number | undefined): void {
    this.dup(pkt, nfproto ?? 0, addr, oif);
  }

  tproxy(_pkt: Packet, _family: number, _addr: Uint8Array | undefined, _port: number | undefined): boolean { return false; }
  synproxy(_pkt: Packet, _mss: number, _wscale: number, _flags: number): number { return 1; }
  osf(_pkt: Packet, _ttl: number, _flags: number, _regs: Uint8Array, _off: number): boolean { return false; }
  connlimitCount(pkt: Packet, list: object): number {
    const ct = this.path.ct;
    return ct ? connlimitCount(ct, pkt, list) : -1;
  }
  metaExtra(_pkt: Packet, _key: number): number | undefined { return undefined; }

  bridgePortVlan(ifindex: number): { pvid: number; proto: number } | undefined {
    const port = linkByIndex(this.host, ifindex);
    const br = port?.master !== undefined ? linkByIndex(this.host, port.master) : undefined;
    if (!port || !br || !vlanFiltering(br)) return undefined;
    // nfx's bridges speak 802.1Q only (vlan_protocol 802.1Q).
    return { pvid: portVlanGroup(br, port).pvid, proto: ETH_P_8021Q };
  }
}
