/**
 * nf_nat for nfx: NAT bindings chosen once per connection (nf_nat_core.c),
 * packets rewritten in place with incremental checksums (nf_nat_proto.c),
 * ICMP errors translated with the packet they quote.
 *
 * How the host packet path uses it, at each of the four NAT hooks of a family
 * that has at least one nat chain (the kernel registers all four then:
 * PREROUTING -100 and OUTPUT -100 rewrite destinations, POSTROUTING 100 and
 * INPUT 100 sources):
 *   for each nat base chain at this hook, by priority:
 *     if (!natNeedsChains(table, pkt, hook)) break;
 *     run the chain; its nat/masq/redir expressions call natSetup(table, pkt, req, hook, env)
 *   verdict = natPacket(table, pkt, hook)   // null binding if no rule bound, then the rewrite
 * After natPacket at LOCAL_OUT, re-route when the destination changed (ip_route_me_harder).
 */
export { natSetup, natNeedsChains, natPacket, hookManip, jhash2 } from './core.js';
export type { NatEnv } from './core.js';
export { manipPacket } from './manip.js';
export { conntrackServices } from './services.js';
export type { ConntrackServices } from './services.js';
