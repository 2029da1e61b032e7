/**
 * IPv4 fragmentation as ip_do_fragment() (net/ipv4/ip_output.c) does it on
 * the slow path: every fragment but the last carries (mtu - header length)
 * rounded down to 8 bytes of data (RFC 791: offsets count 8-byte units), the
 * original header (no options here: nfx builds none that must not be copied),
 * the same ID, its offset and MF; the last keeps the original's MF.
 */
import { be16 } from './build.js';

export function fragmentIpv4(l3: Uint8Array, mtu: number): Uint8Array[] {
  const hlen = (l3[0]! & 0x0f) * 4;
  const fo = be16(l3, 6);
  const room = (mtu - hlen) & ~7;
  const payload = be16(l3, 2) - hlen;
  const baseOff = (fo & 0x1fff) * 8;
  const lastMf = fo & 0x2000;
  const out: Uint8Array[] = [];
  if (room <= 0) return out;
  for (let off = 0; off < payload; off += room) {
    const len = Math.min(room, payload - off);
    const f = new Uint8Array(hlen + len);
    f.set(l3.subarray(0, hlen), 0);
    f.set(l3.subarray(hlen + off, hlen + off + len), hlen);
    const more = off + len < payload ? 0x2000 : lastMf;
    const word = (fo & 0x4000) | more | ((baseOff + off) >> 3);
    f[6] = word >> 8; f[7] = word & 0xff;
    f[2] = (hlen + len) >> 8; f[3] = (hlen + len) & 0xff;
    f[10] = 0; f[11] = 0;
    let sum = 0;
    for (let k = 0; k < hlen; k += 2) sum += (f[k]! << 8) | f[k + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    f[10] = c >> 8; f[11] = c & 0xff;
    out.push(f);
  }
  return out;
}
