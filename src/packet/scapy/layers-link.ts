/** Link layers: Ether, Dot1Q, Dot1AD, ARP — scapy's field names and defaults. */
import { emitArp } from '../build/arp.js';
import { emitEther, emitVlan } from '../build/ethernet.js';
import { addr, DEFAULT_ARP_HWSRC, DEFAULT_ARP_PSRC, DEFAULT_ETHER_DST, DEFAULT_ETHER_SRC } from './addresses.js';
import { F, num, numOrNull, type LayerDef } from './model.js';
import { ARP_HWTYPES, ARP_OPS, ETHER_TYPES } from './names.js';

export const Ether: LayerDef = {
  name: 'Ether',
  classes: ['Ether'],
  // scapy's default type 0x9000 (loopback) applies when nothing binds it.
  fields: [F.mac('dst', null), F.mac('src', null), F.int('type', 16, 0x9000, ETHER_TYPES)],
  emit: (l, p) => emitEther({ dst: addr(l, 'dst', DEFAULT_ETHER_DST), src: addr(l, 'src', DEFAULT_ETHER_SRC), type: num(l, 'type') }, p),
};

const vlanFields = [F.int('prio', 3, 0), F.int('id', 1, 0), F.int('vlan', 12, 1), F.int('type', 16, 0, ETHER_TYPES)];
const emitTag: LayerDef['emit'] = (l, p) =>
  emitVlan({ prio: num(l, 'prio'), id: num(l, 'id'), vlan: num(l, 'vlan'), type: num(l, 'type') }, p);

export const Dot1Q: LayerDef = { name: 'Dot1Q', classes: ['Dot1Q'], fields: vlanFields, emit: emitTag };
export const Dot1AD: LayerDef = { name: 'Dot1AD', classes: ['Dot1AD', 'Dot1Q'], fields: vlanFields, emit: emitTag };

export const ARP: LayerDef = {
  name: 'ARP',
  classes: ['ARP'],
  l3: true,
  fields: [
    F.int('hwtype', 16, 1, ARP_HWTYPES), F.int('ptype', 16, 0x0800, ETHER_TYPES), F.int('hwlen', 8, null), F.int('plen', 8, null),
    F.int('op', 16, 1, ARP_OPS), F.mac('hwsrc', null), F.ip4('psrc', null), F.mac('hwdst', '00:00:00:00:00:00'), F.ip4('pdst', '0.0.0.0'),
  ],
  emit: (l, p) => emitArp({
    hwtype: num(l, 'hwtype'), ptype: num(l, 'ptype'), hwlen: numOrNull(l, 'hwlen'), plen: numOrNull(l, 'plen'), op: num(l, 'op'),
    hwsrc: addr(l, 'hwsrc', DEFAULT_ARP_HWSRC), psrc: addr(l, 'psrc', DEFAULT_ARP_PSRC),
    hwdst: addr(l, 'hwdst', '00:00:00:00:00:00'), pdst: addr(l, 'pdst', '0.0.0.0'),
  }, p),
};
