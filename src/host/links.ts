/**
 * Links (net devices): creation, lookup, and the carrier rules the FIB depends on.
 */
import { createHash } from 'node:crypto';
import type { Host, Link, LinkKind } from './types.js';

export function linkByIndex(host: Host, index: number): Link | undefined {
  for (const l of host.links) if (l.index === index) return l;
  return undefined;
}

export function linkByName(host: Host, name: string): Link | undefined {
  for (const l of host.links) if (l.name === name) return l;
  return undefined;
}

/**
 * netif_carrier_ok(): `lo`, dummy and plain ethernet links have carrier while up;
 * a veth has carrier only while both ends are up (veth_open/veth_close); a
 * bridge while it is up and one of its ports forwards.
 */
export function hasCarrier(host: Host, l: Link): boolean {
  if (!l.up) return false;
  if (l.kind === 'bridge') {
    // br_port_state_selection(): a bridge has carrier while one of its ports forwards (BR_STATE_FORWARDING 3).
    for (const p of host.links) if (p.master === l.index && p.brport?.state === 3) return true;
    return false;
  }
  if (l.kind !== 'veth') return true;
  const peer = l.peer !== undefined ? linkByIndex(host, l.peer) : undefined;
  return peer !== undefined && peer.up;
}

/**
 * A MAC for a new link that is stable across runs (the kernel draws a random one,
 * eth_hw_addr_random): the first 6 bytes of SHA-256("nfx" NUL host NUL ifname),
 * with the locally-administered bit set and the group bit clear (IEEE 802 §8.2).
 */
export function deriveMac(hostName: string, ifname: string): Uint8Array {
  const h = createHash('sha256').update(`nfx\0${hostName}\0${ifname}`).digest();
  const mac = new Uint8Array(h.subarray(0, 6));
  mac[0] = (mac[0]! & 0xfe) | 0x02;
  return mac;
}

/** RFC 4291 §2.5.1 / Appendix A: the modified EUI-64 interface identifier of a MAC. */
export function eui64LinkLocal(mac: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe; a[1] = 0x80;
  a[8] = mac[0]! ^ 0x02; a[9] = mac[1]!; a[10] = mac[2]!; a[11] = 0xff;
  a[12] = 0xfe; a[13] = mac[3]!; a[14] = mac[4]!; a[15] = mac[5]!;
  return a;
}

export function newLink(host: Host, name: string, kind: LinkKind, mac?: Uint8Array): Link {
  const loop = kind === 'loopback';
  return {
    index: host.nextIndex++,
    name,
    kind,
    mac: mac ?? (loop ? new Uint8Array(6) : deriveMac(host.name, name)),
    mtu: loop ? 65536 : 1500,
    txqlen: 1000,
    up: false,
    everUp: false,
    addrGenMode: 'eui64',
  };
}

/** IFNAMSIZ (16) minus the NUL; the kernel's dev_valid_name(). */
export function validIfname(name: string): boolean {
  return name.length > 0 && name.length < 16 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}
