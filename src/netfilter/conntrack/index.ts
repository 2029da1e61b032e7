/**
 * nf_conntrack for nfx: connection tracking as net/netfilter/nf_conntrack_core.c
 * and its protocol trackers do it, on a virtual clock, serialisable to JSON.
 *
 * How the host packet path uses it (the kernel's hook order):
 * - PREROUTING (-400) / OUTPUT: `defragIn()` when conntrack is in use
 *   (nf_defrag_ipv4/ipv6 at priority -400), then at -200 `conntrackIn()`.
 * - base chains read `ct ...` through `ctLoad()`/`ctStore()`; `notrack` calls `notrack()`.
 * - NAT hooks: `natNeedsChains()` → run the nat base chains (their nat
 *   expressions call `natSetup()`), then `natPacket()` (../nat).
 * - INPUT / POSTROUTING last: `conntrackConfirm()`.
 * - a packet that dies before confirmation: `conntrackRelease()`.
 *
 * `pkt.meta.ctSlot` carries the entry and the ctinfo like skb->_nfct:
 * `(slot << 3) | ctinfo`, -1 = no entry (not looked up, or invalid),
 * `IP_CT_UNTRACKED` (7, slot 0) = the untracked template.
 */
export * from './types.js';
export { ConntrackTable, CT_SYSCTL_DEFAULTS, ctInfoOf, connOf } from './table.js';
export type { CtSysctl, ConntrackTableOptions } from './table.js';
export { conntrackIn, conntrackConfirm, conntrackRelease, notrack } from './core.js';
export type { CtResult } from './core.js';
export { ctLoad, ctStore, connlimitCount } from './keys.js';
export { formatConntrack, formatConn, serializeConntrack, deserializeConntrack } from './format.js';
export type { ConntrackJson } from './format.js';
export { defragIn, DefragState } from './defrag.js';
export type { DefragResult } from './defrag.js';
