/**
 * From an SAD entry to the ESP engine's configuration (./esp/sa.ts): the SAD
 * owns lookup, lifetimes and `ip xfrm`; the ESP engine owns the transform
 * and the replay window. The replay counters start from the SA's replay
 * state so `replay-seq`/`replay-oseq` given to `ip xfrm` take effect.
 */
import type { EspSaConfig, XfrmExtraFlag, XfrmMode, XfrmStateFlag } from './esp/index.js';
import { formatAddress } from './addr.js';
import {
  AF_UNSPEC,
  XFRM_MODE_BEET,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
  XFRM_STATE_AF_UNSPEC,
  XFRM_STATE_ALIGN4,
  XFRM_STATE_DECAP_DSCP,
  XFRM_STATE_ESN,
  XFRM_STATE_ICMP,
  XFRM_STATE_NOECN,
  XFRM_STATE_NOPMTUDISC,
  XFRM_STATE_WILDRECV,
  XFRM_SA_XFLAG_DONT_ENCAP_DSCP,
  XFRM_SA_XFLAG_OSEQ_MAY_WRAP,
} from './constants.js';
import { replayWindowSize, type XfrmSA } from './state.js';

const FLAG_NAMES: [number, XfrmStateFlag][] = [
  [XFRM_STATE_NOECN, 'noecn'],
  [XFRM_STATE_DECAP_DSCP, 'decap-dscp'],
  [XFRM_STATE_NOPMTUDISC, 'nopmtudisc'],
  [XFRM_STATE_WILDRECV, 'wildrecv'],
  [XFRM_STATE_ICMP, 'icmp'],
  [XFRM_STATE_AF_UNSPEC, 'af-unspec'],
  [XFRM_STATE_ALIGN4, 'align4'],
  [XFRM_STATE_ESN, 'esn'],
];

/** The EspSaConfig for an ESP SA; throws for modes the ESP engine does not implement. */
export function espSaConfigFromXfrm(sa: XfrmSA): EspSaConfig {
  const mode: XfrmMode =
    sa.mode === XFRM_MODE_TRANSPORT
      ? 'transport'
      : sa.mode === XFRM_MODE_TUNNEL
        ? 'tunnel'
        : sa.mode === XFRM_MODE_BEET
          ? 'beet'
          : (() => {
              throw new Error(`mode ${sa.mode} has no ESP implementation`);
            })();
  const flags = FLAG_NAMES.filter(([bit]) => sa.flags & bit).map(([, n]) => n);
  const extraFlags: XfrmExtraFlag[] = [];
  if (sa.extraFlags & XFRM_SA_XFLAG_DONT_ENCAP_DSCP) extraFlags.push('dont-encap-dscp');
  if (sa.extraFlags & XFRM_SA_XFLAG_OSEQ_MAY_WRAP) extraFlags.push('oseq-may-wrap');
  const r = sa.replayEsn;
  const cfg: EspSaConfig = {
    spi: sa.spi,
    saddr: formatAddress(sa.family, sa.saddr),
    daddr: formatAddress(sa.family, sa.daddr),
    mode,
    reqid: sa.reqid,
    flags,
    extraFlags,
    replayWindow: replayWindowSize(sa),
    replaySeq: r ? r.seq : sa.replay.seq,
    replaySeqHi: r ? r.seqHi : 0,
    replayOseq: r ? r.oseq : sa.replay.oseq,
    replayOseqHi: r ? r.oseqHi : 0,
  };
  if (sa.aead) cfg.aead = { name: sa.aead.name, key: sa.aead.key, icvBits: sa.aead.icvBits };
  if (sa.enc) cfg.enc = { name: sa.enc.name, key: sa.enc.key };
  if (sa.auth) cfg.auth = { name: sa.auth.name, key: sa.auth.key, truncBits: sa.auth.truncBits };
  if (sa.tfcpad) cfg.tfcpad = sa.tfcpad;
  if (sa.encap) cfg.encap = { sport: sa.encap.sport, dport: sa.encap.dport, oa: formatAddress(sa.family, sa.encap.oa) };
  if (sa.sel.family !== AF_UNSPEC)
    cfg.sel = { saddr: formatAddress(sa.sel.family, sa.sel.saddr), daddr: formatAddress(sa.sel.family, sa.sel.daddr) };
  return cfg;
}
