/**
 * ESP (RFC 4303) for nfx: algorithms, SA, replay window, output and input.
 *
 * Usage: `const sa = createEspSa(cfg)`; `espOutput(sa, pkt)` turns the IP
 * packet at `pkt.head` into the ESP packet in place; `espInput(sa, pkt)`
 * turns an ESP packet (raw, or in UDP with the UDP header still there) back
 * into the inner packet and pushes a secpath entry. Neither throws for bad
 * packets: a drop is `{ ok: false, counter, skbReason, detail }` with the
 * /proc/net/xfrm_stat counter Linux would increment.
 *
 * Where Linux and the RFCs differ, nfx follows Linux and says so:
 *  - padding bytes are not checked on input (esp_remove_trailer() checks only
 *    that the pad length fits; `strictPadCheck` turns the RFC 4303 §2.4 check on);
 *  - a payload of zero bytes is refused (padlen + 2 >= payload length);
 *  - dummy packets (next header 59) count as XfrmInStateProtoError and do
 *    not advance the replay window;
 *  - tunnel decapsulation never drops for ECN: an outer CE over a Not-ECT
 *    inner leaves the inner unmarked (RFC 6040 §4.2 would drop);
 *  - `flag align4` only matters for AH;
 *  - IPv4 tunnels copy DF, except for inner IPv6 packets of <= 1280 bytes;
 *  - 8-byte IVs are the sequence number (Linux's seqiv XORs it with a
 *    per-key random salt), CBC IVs are random.
 */
export { createEspCrypto, espCryptoBackend, EspConfigError, ESP_AEAD_ALGORITHMS, ESP_AUTH_ALGORITHMS, ESP_ENC_ALGORITHMS } from './algorithms.js';
export type { AeadSpec, AuthSpec, EncSpec, EspBatchEngine, EspCrypto, EspCryptoBackend, EspCryptoBackendChoice } from './algorithms.js';
export { FFI_BATCH_SLOTS, ffiCallListAvailable, ffiOpenSsl, ffiUnavailableReason, ffiUseCallList } from './crypto-ffi.js';
export { cmacMac, xcbcMac } from './mac.js';
export { GCM_BATCH_MAX, GcmBatch } from './gcm-batch.js';
export type { GcmJob } from './gcm-batch.js';
export { ReplayWindow, REPLAY_REJECT, REPLAY_WINDOW_MAX } from './replay.js';
export type { ReplayConfig } from './replay.js';
export { createEspSa, EspSa, parseIp, XFRM_SA_XFLAGS, XFRM_STATE_FLAGS } from './sa.js';
export type { EspEncapConfig, EspSaConfig, IpAddr, IpVersion, IvSource, XfrmExtraFlag, XfrmKmState, XfrmMode, XfrmStateFlag } from './sa.js';
export { espOutput, espOutputBatch } from './output.js';
export type { EspOutputOk, EspOutputOptions, EspOutputResult } from './output.js';
export { espInput, espInputBatch, espLocate } from './input.js';
export type { EspArrival, EspInputNotEsp, EspInputOk, EspInputResult, EspLocation } from './input.js';
export { espDrop, XFRM_STAT_NAMES } from './reasons.js';
export type { EspDrop, SkbDropReason, XfrmStatName } from './reasons.js';
