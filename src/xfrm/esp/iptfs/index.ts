/**
 * IP-TFS (RFC 9347) for nfx, as Linux 6.14's net/xfrm/xfrm_iptfs.c does it:
 * inner packets aggregated and fragmented into AGGFRAG payloads (ESP next
 * header 144) on output, reordered, reassembled and delivered in order on
 * input. Timers run on an injectable scheduler (VirtualScheduler for tests).
 *
 * Wiring for an SA with `mode iptfs`:
 *   const opts = parseIptfsOpts(words);            // the words after `iptfs-opts`
 *   const sa = createEspSa({ ...cfg, mode: 'tunnel' });   // crypto, seq, replay
 *   const tx = new IptfsSender({ options: opts, scheduler, output: (p) => iptfsEspOutput(sa, p) && send(p),
 *                                mtu: iptfsPayloadMtu(iptfsOverhead(sa), opts, pathMtu) });
 *   tx.enqueue(innerBytes);
 *   const rx = new IptfsReceiver({ options: opts, scheduler, deliver });
 *   const r = iptfsEspInput(sa, pkt); if (r.ok) rx.input(r.payload, r.seq, r.outerTos);
 */
export {
  defaultIptfsOptions, ecnQueueSize, formatIptfsOpts, IptfsConfigError, parseIptfsAttrsPrefix, parseIptfsOpts, parseIptfsOptsPrefix,
  IPTFS_DEFAULT_DROP_TIME_USECS, IPTFS_DEFAULT_INIT_DELAY_USECS, IPTFS_DEFAULT_MAX_QUEUE_SIZE, IPTFS_DEFAULT_REORDER_WINDOW,
} from './options.js';
export type { IptfsAttrs, IptfsOptions } from './options.js';
export {
  IPPROTO_AGGFRAG, IPTFS_BASIC_HDR_LEN, IPTFS_CC_HDR_LEN, IPTFS_SUBTYPE_BASIC, IPTFS_SUBTYPE_CC, readCcHeader, writeBasicHeader, writeCcHeader,
} from './header.js';
export type { IptfsCcHeader } from './header.js';
export { RealScheduler, VirtualScheduler } from './timer.js';
export type { IptfsClock, IptfsScheduler, IptfsTimer } from './timer.js';
export { IptfsSender, iptfsOverhead, iptfsPayloadMtu, setCe } from './sender.js';
export type { IptfsEnqueueResult, IptfsOutputDrop, IptfsOverhead, IptfsPayloadInfo, IptfsSenderConfig } from './sender.js';
export { IptfsReceiver } from './receiver.js';
export type { IptfsReceiverConfig } from './receiver.js';
export { iptfsEspInput, iptfsEspOutput } from './esp.js';
export type { IptfsEspInputOk, IptfsEspInputResult, IptfsEspOutputOptions, IptfsEspOutputResult } from './esp.js';
export { IptfsFixedRateSender } from './fixed-rate.js';
export type { IptfsFixedRateConfig } from './fixed-rate.js';
export { IptfsCcEcho, IptfsCcEndpoint, IptfsLossEstimator, IptfsRateController, tfrcThroughput } from './cc.js';
export type { IptfsCcEndpointConfig, IptfsRateConfig } from './cc.js';
