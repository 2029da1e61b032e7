/** The expression registry: an explicit list, no import side effects (STYLE.md §1). */
import type { ExprType } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { payloadOps } from './payload.js';
import { cmpOps } from './cmp.js';
import { bitwiseOps } from './bitwise.js';
import { byteorderOps } from './byteorder.js';
import { rangeOps } from './range.js';
import { immediateOps } from './immediate.js';
import { lookupOps } from './lookup.js';
import { dynsetOps } from './dynset.js';
import { metaOps } from './meta.js';
import { ctOps } from './ct.js';
import { exthdrOps } from './exthdr.js';
import { counterOps } from './counter.js';
import { limitOps } from './limit.js';
import { quotaOps } from './quota.js';
import { connlimitOps } from './connlimit.js';
import { lastOps } from './last.js';
import { logOps } from './log.js';
import { rejectOps } from './reject.js';
import { natOps, masqOps, redirOps } from './nat.js';
import { queueOps } from './queue.js';
import { objrefOps } from './objref.js';
import { hashOps } from './hash.js';
import { numgenOps } from './numgen.js';
import { xfrmOps } from './xfrm.js';
import { rtOps } from './rt.js';
import { osfOps } from './osf.js';
import { dupOps } from './dup.js';
import { fwdOps } from './fwd.js';
import { synproxyOps } from './synproxy.js';
import { fibOps } from './fib.js';
import { socketOps } from './socket.js';
import { tproxyOps } from './tproxy.js';
import { notrackOps } from './notrack.js';
import { flowOffloadOps } from './flow-offload.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOps = ExprOps<any, any>;

export const EXPR_OPS: Readonly<Record<ExprType, AnyOps>> = {
  payload: payloadOps, cmp: cmpOps, bitwise: bitwiseOps, byteorder: byteorderOps, range: rangeOps,
  immediate: immediateOps, lookup: lookupOps, dynset: dynsetOps, meta: metaOps, ct: ctOps, exthdr: exthdrOps,
  counter: counterOps, limit: limitOps, quota: quotaOps, connlimit: connlimitOps, last: lastOps, log: logOps,
  reject: rejectOps, nat: natOps, masq: masqOps, redir: redirOps, queue: queueOps, objref: objrefOps,
  hash: hashOps, numgen: numgenOps, xfrm: xfrmOps, rt: rtOps, osf: osfOps, dup: dupOps, fwd: fwdOps,
  synproxy: synproxyOps, fib: fibOps, socket: socketOps, tproxy: tproxyOps, notrack: notrackOps,
  flow_offload: flowOffloadOps,
};

export type { ExprOps, BindContext, ValidateContext } from './types.js';
