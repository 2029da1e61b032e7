/** The registry of packet-expression layers: an explicit list (STYLE.md §1), no import side effects. */
import type { Registry } from './evaluate.js';
import { IP6_OPTIONS, IP_OPTIONS, SRH_TLVS, IP, IPerror, IPerror6, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting } from './layers-ip.js';
import { ICMP, ICMPerror, IGMP, IGMPv3, IGMPv3gr, IGMPv3mq, IGMPv3mr } from './layers-icmp.js';
import { ICMP6_LAYERS } from './layers-icmp6.js';
import { ARP, Dot1AD, Dot1Q, Ether } from './layers-link.js';
import { AH, ESP, GRE, NAT_KEEPALIVE, NON_ESP, Padding, Raw } from './layers-misc.js';
import { DCCP, SCTP, TCP, TCPerror, UDP, UDPerror, UDPLite } from './layers-transport.js';
import type { LayerDef } from './model.js';

export const LAYERS: readonly LayerDef[] = [
  Ether, Dot1Q, Dot1AD, ARP,
  IP, IPerror, ...IP_OPTIONS, IPv6, IPerror6,
  IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting, IPv6ExtHdrFragment, ...IP6_OPTIONS, ...SRH_TLVS,
  TCP, TCPerror, UDP, UDPerror, UDPLite, SCTP, DCCP,
  ICMP, ICMPerror, IGMP, IGMPv3, IGMPv3mq, IGMPv3mr, IGMPv3gr,
  ...ICMP6_LAYERS,
  ESP, AH, GRE, NON_ESP, NAT_KEEPALIVE, Raw, Padding,
];

export const REGISTRY: Registry = new Map(LAYERS.map((d) => [d.name, d]));
