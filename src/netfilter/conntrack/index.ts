/**
 * nf_conntrack for nfx: connection tracking as net/netfilter/nf_conntrack_core.c
 * and its protocol trackers do it, on a virtual clock, serialisable to JSON.
 *
 * How the host packet path uses it (the kernel's hook order), only when the
 * ruleset uses ct or NAT:
 * - PREROUTING / OUTPUT at -400: `defragIn()` (nf_defrag_ipv4/ipv6); a
 *   reassembled packet is a new Packet (`defragMaxSize()` = its largest
 *   fragment, for refragmenting on output), 'queued' = held, `{drop}` = dropped.
 * - PREROUTING / OUTPUT at -200: `conntrackIn(table, pkt, family, hook)`.
 *   Invalid packets go on (ctinfo CT_INVALID, `reason` says why); verdict
 *   NF_DROP (0) only when the table is full. Raw chains (-300) run before it,
 *   so their `notrack` and `ct zone set` take effect.
 * - the VM's ct/notrack/nat/connlimit expressions: `ctLoad`, `ctStore`,
 *   `notrack`, `natSetup`, `connlimitCount` — or all bound at once with
 *   `conntrackServices(table, env, hookOf)` from ../nat.
 * - NAT hooks: see ../nat/index.ts (`natNeedsChains`, `natPacket`).
 * - INPUT / POSTROUTING last: `conntrackConfirm()` (runs ftp/tftp helpers,
 *   then inserts a new entry; NF_DROP on a clash).
 * - a packet that dies before confirmation: `conntrackRelease()`.
 * - a packet built in answer to another (reject's TCP reset): `conntrackAttach(table, new, old)`.
 * - after `sysctl -w net.netfilter.*`: `table.reloadSysctls()` (values are cached).
 *
 * `pkt.meta.ctSlot` carries the entry and the ctinfo like skb->_nfct:
 * `(slot << 3) | ctinfo`, -1 = no entry (not looked up, or invalid),
 * `IP_CT_UNTRACKED` (7, slot 0) = the untracked template. Read it with
 * `ctInfoOf(pkt)` and `connOf(table, pkt)`.
 */
export * from './types.js';
export { ConntrackTable, CT_SYSCTL_DEFAULTS, ctInfoOf, connOf } from './table.js';
export type { CtSysctl, ConntrackTableOptions } from './table.js';
export { conntrackIn, conntrackConfirm, confirmDropReason, conntrackRelease, conntrackAttach, notrack } from './core.js';
export type { CtResult } from './core.js';
export { ctLoad, ctStore, connlimitCount, packetZone } from './keys.js';
export { formatConntrack, formatConn, serializeConntrack, deserializeConntrack } from './format.js';
export type { ConntrackJson } from './format.js';
export { defragIn, DefragState, defragMaxSize } from './defrag.js';
export type { DefragResult } from './defrag.js';
export { expectationsOf } from './helpers.js';
export type { Expectation } from './helpers.js';
