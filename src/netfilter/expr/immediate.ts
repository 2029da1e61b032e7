/** immediate (nft_immediate.c): a constant into a data register, or a verdict into the verdict register. */
import type { ImmediateExpr, Verdict } from '../bytecode.js';
import { NFT_JUMP, NFT_GOTO, NF_QUEUE } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, storeBytes } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface ImmediateP { reg: number; data: Uint8Array | undefined; verdict: Verdict | undefined }

export const immediateOps: ExprOps<ImmediateExpr, ImmediateP> = {
  type: 'immediate',
  prepare(e) {
    if (e.dreg === 0) {
      const v = e.verdict;
      if (!v) fail(ERRNO.EINVAL);
      // nft_verdict_init: only these codes; queue verdicts come from the queue expression.
      // nft_verdict_init: accept, drop, queue and the NFT_* codes; nothing else (not stolen).
      if (v.code >= 0 && (v.code & 0xff) !== 0 && (v.code & 0xff) !== 1 && (v.code & 0xff) !== NF_QUEUE) fail(ERRNO.EINVAL);
      if (v.code < -5) fail(ERRNO.EINVAL);
      if ((v.code === NFT_JUMP || v.code === NFT_GOTO) && !v.chain) fail(ERRNO.EINVAL);
      return { reg: 0, data: undefined, verdict: v };
    }
    if (!e.data) fail(ERRNO.EINVAL);
    return { reg: regByteOffset(e.dreg, e.data.length), data: e.data, verdict: undefined };
  },
  eval(p, vm) {
    if (p.verdict) {
      vm.code[0] = p.verdict.code;
      vm.chain = p.verdict.chain;
      return;
    }
    storeBytes(vm, p.reg, p.data!, 0, p.data!.length);
  },
};
