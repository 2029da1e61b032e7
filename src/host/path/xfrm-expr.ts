/**
 * `ipsec in|out` (nft_xfrm.c): the key of one SA, read from the secpath
 * (input: sp->xvec[spnum], outermost first) or from the output bundle
 * (the xfrm_dst chain of skb_dst, spnum-th transform). Addresses are only
 * readable from tunnel-mode SAs of the matching family
 * (xfrm_state_addr_ok); spi and reqid from any SA.
 */
import type { Packet } from '../../packet/packet.js';
import { AF_INET, AF_INET6, XFRM_MODE_TUNNEL } from '../../xfrm/index.js';
import { bundleOf, secpathOf } from './xfrm-flow.js';

/** enum nft_xfrm_keys (uapi/linux/netfilter/nf_tables.h). */
const NFT_XFRM_KEY_DADDR_IP4 = 1, NFT_XFRM_KEY_DADDR_IP6 = 2, NFT_XFRM_KEY_SADDR_IP4 = 3,
  NFT_XFRM_KEY_SADDR_IP6 = 4, NFT_XFRM_KEY_REQID = 5, NFT_XFRM_KEY_SPI = 6;
/** NFT_XFRM_DIR_IN 0, OUT 1 */
const NFT_XFRM_DIR_IN = 0;

interface SaKeys { spi: number; reqid: number; family: number; tunnel: boolean; saddr: Uint8Array; daddr: Uint8Array }

function stateAt(pkt: Packet, dir: number, spnum: number): SaKeys | undefined {
  if (dir === NFT_XFRM_DIR_IN) {
    const sp = secpathOf(pkt);
    const sa = sp[spnum];
    if (sa) return { spi: sa.spi, reqid: sa.reqid, family: sa.family, tunnel: sa.mode === XFRM_MODE_TUNNEL, saddr: sa.saddr, daddr: sa.daddr };
    return undefined;
  }
  const sa = bundleOf(pkt)?.[spnum];
  return sa && { spi: sa.spi, reqid: sa.reqid, family: sa.family, tunnel: sa.mode === XFRM_MODE_TUNNEL, saddr: sa.saddr, daddr: sa.daddr };
}

/** nft_xfrm_get_eval: false = NFT_BREAK (no such SA, or the key cannot be read from it). */
export function xfrmKeyLoad(pkt: Packet, dir: number, spnum: number, key: number, regs: Uint8Array, off: number): boolean {
  const st = stateAt(pkt, dir, spnum);
  if (!st) return false;
  const v4 = key === NFT_XFRM_KEY_DADDR_IP4 || key === NFT_XFRM_KEY_SADDR_IP4;
  const v6 = key === NFT_XFRM_KEY_DADDR_IP6 || key === NFT_XFRM_KEY_SADDR_IP6;
  if (v4 || v6) {
    if (!st.tunnel || st.family !== (v4 ? AF_INET : AF_INET6)) return false;
    const a = key === NFT_XFRM_KEY_DADDR_IP4 || key === NFT_XFRM_KEY_DADDR_IP6 ? st.daddr : st.saddr;
    regs.set(a.subarray(0, v4 ? 4 : 16), off);
    return true;
  }
  if (key === NFT_XFRM_KEY_SPI) {
    // state->id.spi is __be32: the register holds network order.
    regs[off] = st.spi >>> 24; regs[off + 1] = (st.spi >>> 16) & 0xff; regs[off + 2] = (st.spi >>> 8) & 0xff; regs[off + 3] = st.spi & 0xff;
    return true;
  }
  if (key === NFT_XFRM_KEY_REQID) {
    // props.reqid is host order (little-endian registers, as putU32 in services.ts).
    const r = st.reqid >>> 0;
    regs[off] = r & 0xff; regs[off + 1] = (r >>> 8) & 0xff; regs[off + 2] = (r >>> 16) & 0xff; regs[off + 3] = r >>> 24;
    return true;
  }
  return false;
}
