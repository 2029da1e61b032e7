/**
 * A call list: many C calls for one JS→native crossing, without compiling
 * anything.
 *
 * Why: koffi charges ~70 ns per call plus ~25 ns per argument (measured
 * here: a 6-argument call ~200 ns), and one ESP packet is five provider
 * calls (nonce, AAD, payload, final, tag) — about as long as AES-GCM takes
 * over 1400 bytes. A compiled helper cannot be shipped (npm runs no install
 * scripts; koffi is our only binary), so this module carries the one helper
 * it needs as 93 bytes of x86-64 machine code, assembled from the listing
 * below, copied into a page mapped read-write, then made read-execute
 * (W^X) before koffi is allowed to call it.
 *
 * A list entry is 64 bytes, eight little-endian 64-bit words:
 *   [0] function address  [1..6] its six integer arguments  [7] control:
 *   low half in: how many following entries to skip when this call does
 *   not return 1 (the rest of one packet's calls); high half out: the
 *   call's int result. Arguments a function does not take are ignored.
 *
 *   nfx_calls(entries, n): int            ; System V AMD64 ABI
 *     endbr64                             ; f3 0f 1e fa   (a NOP without CET)
 *     push rbx; push r12; push r13        ; stack 16-aligned for the calls
 *     mov rbx, rdi; mov r12d, esi; xor r13d, r13d
 *   loop:
 *     test r12d, r12d; jle done
 *     mov rdi,[rbx+8]; mov rsi,[rbx+16]; mov rdx,[rbx+24]
 *     mov rcx,[rbx+32]; mov r8,[rbx+40]; mov r9,[rbx+48]
 *     call [rbx]
 *     mov [rbx+60], eax                   ; the result
 *     add rbx, 64; dec r12d
 *     cmp eax, 1; jne fail
 *     inc r13d; jmp loop
 *   fail:
 *     mov eax, [rbx-8]                    ; the skip count
 *     sub r12d, eax; shl rax, 6; add rbx, rax; jmp loop
 *   done:
 *     mov eax, r13d                       ; how many calls returned 1
 *     pop r13; pop r12; pop rbx; ret
 *
 * Only on Linux x86-64 (the System V calling convention, Linux's mmap
 * flags); elsewhere `loadCallList` returns null and the caller crosses once
 * per call. The caller alone writes the entries, from addresses it has
 * bounds-checked: nothing from a packet ever becomes a function address.
 */
import type * as KoffiModule from 'koffi';

type Koffi = typeof KoffiModule;

/** The routine's machine code (test/esp-call-list-asm.test.ts disassembles it against the listing above). */
export const CALL_LIST_CODE = 'f30f1efa53415441554889fb4189f44531ed4585e47e3d488b7b08488b7310488b5318488b4b204c8b43284c8b4b30ff1389433c4883c34041ffcc83f801750541ffc5ebcd8b43f84129c448c1e0064801c3ebbe4489e8415d415c5bc3';

/** Bytes per entry, and the word offsets in it. */
export const CALL_ENTRY = 64;
const PAGE = 4096;
/** <sys/mman.h> on Linux. */
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 2;
const MAP_ANONYMOUS = 0x20;

/** Runs `n` entries at address `list`; returns how many calls returned 1. */
export type CallListRunner = (list: number, n: number) => number;

/**
 * Entries in a native buffer the caller owns. `set` writes one entry;
 * addresses are numbers below 2^53 (user-space addresses on x86-64 are
 * below 2^47).
 */
export class CallList {
  readonly words: Uint32Array;
  readonly i32: Int32Array;
  constructor(readonly bytes: Uint8Array, readonly address: number) {
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
    this.i32 = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  }

  get capacity(): number {
    return Math.floor(this.bytes.length / CALL_ENTRY);
  }

  /** Word `w` (0 = function, 1..6 = arguments) of entry `e`. */
  put(e: number, w: number, v: number): void {
    const i = e * 16 + w * 2;
    this.words[i] = v >>> 0;
    this.words[i + 1] = (v - (v >>> 0)) / 4294967296;
  }

  /** Words `w1` and `w2` of entry `e`, both `v` (an address passed twice). */
  put2(e: number, w1: number, w2: number, v: number): void {
    const lo = v >>> 0;
    const hi = (v - lo) / 4294967296;
    const b = e * 16;
    this.words[b + w1 * 2] = lo;
    this.words[b + w1 * 2 + 1] = hi;
    this.words[b + w2 * 2] = lo;
    this.words[b + w2 * 2 + 1] = hi;
  }

  /** Word `w` of entry `e` = a length below 2^32, whose high half `set` already zeroed and nothing else writes. */
  putLen(e: number, w: number, v: number): void {
    this.words[e * 16 + w * 2] = v;
  }

  /** Entry `e`: `fn(args...)`, skipping the next `skip` entries unless it returns 1. */
  set(e: number, fn: number, skip: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): void {
    this.put(e, 0, fn);
    this.put(e, 1, a0);
    this.put(e, 2, a1);
    this.put(e, 3, a2);
    this.put(e, 4, a3);
    this.put(e, 5, a4);
    this.put(e, 6, a5);
    this.words[e * 16 + 14] = skip;
    this.i32[e * 16 + 15] = 0;
  }

  /** What entry `e`'s call returned in the last run (0 when it was skipped). */
  result(e: number): number {
    return this.i32[e * 16 + 15]!;
  }

  /** Clears the results of entries [from, from + n) before a run, so skipped calls read 0. */
  clearResults(from: number, n: number): void {
    for (let e = from; e < from + n; e++) this.i32[e * 16 + 15] = 0;
  }
}

let proto: KoffiModule.IKoffiCType | undefined;

/**
 * Maps the runner through `libc` (a koffi library exposing mmap, mprotect
 * and memmove); null on other platforms or when the kernel refuses an
 * executable mapping.
 */
export function loadCallList(koffi: Koffi, libc: KoffiModule.IKoffiLib): CallListRunner | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  try {
    const mmap = libc.func('intptr_t mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, intptr_t off)');
    const mprotect = libc.func('int mprotect(uintptr_t addr, size_t len, int prot)');
    const copy = libc.func('uintptr_t memmove(uintptr_t dst, const uint8_t *src, size_t n)');
    const toPtr = libc.func('void *memmove(uintptr_t dst, uintptr_t src, size_t n)');
    const page = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as number;
    if (typeof page !== 'number' || page <= 0) return null;
    const code = Buffer.from(CALL_LIST_CODE, 'hex');
    copy(page, code, code.length);
    // W^X: never writable and executable at once. The page lives as long as the process.
    if (mprotect(page, PAGE, PROT_READ | PROT_EXEC) !== 0) return null;
    // koffi's type names are global: declare the prototype once per process.
    proto ??= koffi.proto('int nfx_calls(uintptr_t entries, int n)');
    return koffi.decode(toPtr(page, page, 0), proto) as CallListRunner;
  } catch {
    return null;
  }
}
