/**
 * queue (nft_queue.c): the verdict NF_QUEUE with the queue number in the upper
 * 16 bits and NF_VERDICT_FLAG_QUEUE_BYPASS; with several queues the packet's
 * CPU (fanout) or flow hash picks one. Whether a listener exists is decided
 * where the verdict is applied (no listener: drop, or accept with bypass).
 */
import type { QueueExpr } from '../bytecode.js';
import { NF_QUEUE } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';
import { jhash, reciprocalScale } from './hash.js';

export const NF_VERDICT_FLAG_QUEUE_BYPASS = 0x8000;
const NFT_QUEUE_FLAG_BYPASS = 1;
const NFT_QUEUE_FLAG_CPU_FANOUT = 2;

export interface QueueP { num: number; total: number; flags: number; sreg: number }

export const queueOps: ExprOps<QueueExpr, QueueP> = {
  type: 'queue',
  prepare(e) {
    const total = e.total ?? 1;
    if ((e.flags ?? 0) & ~3) fail(ERRNO.EINVAL);
    if (e.num !== undefined && e.num + total - 1 > 0xffff) fail(ERRNO.ERANGE);
    return { num: e.num ?? 0, total, flags: e.flags ?? 0, sreg: e.sregQnum !== undefined ? regByteOffset(e.sregQnum, 2) : -1 };
  },
  eval(p, vm) {
    let q = p.num;
    if (p.sreg >= 0) q = vm.regs[p.sreg >> 2]! & 0xffff;
    else if (p.total > 1) {
      if (p.flags & NFT_QUEUE_FLAG_CPU_FANOUT) q += vm.env.cpu % p.total;
      else {
        const n = vm.pkt.networkHeader;
        const h = n >= 0 ? jhash(vm.pkt.buffer, n + 12, 8, 0) : 0;
        q += reciprocalScale(h, p.total);
      }
    }
    vm.code[0] = NF_QUEUE | (q << 16) | (p.flags & NFT_QUEUE_FLAG_BYPASS ? NF_VERDICT_FLAG_QUEUE_BYPASS : 0);
  },
};
