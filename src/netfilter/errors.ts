/**
 * Kernel-side refusals. nft prints "Error: Could not process rule: <strerror>"
 * for the errno the kernel returns; we keep the errno and nft's text, plus
 * nfx's own detail (e.g. the chain cycle) in `detail`.
 */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EBUSY: 16, EEXIST: 17, ENODEV: 19,
  EINVAL: 22, ENFILE: 23, EAFNOSUPPORT: 97, ENOSPC: 28, ERANGE: 34, ELOOP: 40, EMLINK: 31, EOPNOTSUPP: 95, ENAMETOOLONG: 36, ENOTEMPTY: 39, EOVERFLOW: 75,
} as const;

/** strerror() texts as glibc prints them (nft appends them to "Could not process rule: "). */
const STRERROR: Record<number, string> = {
  1: 'Operation not permitted', 2: 'No such file or directory', 7: 'Argument list too long',
  9: 'Bad file descriptor', 11: 'Resource temporarily unavailable', 12: 'Cannot allocate memory',
  16: 'Device or resource busy', 17: 'File exists', 19: 'No such device', 22: 'Invalid argument',
  23: 'Too many open files in system', 28: 'No space left on device', 31: 'Too many links', 34: 'Numerical result out of range',
  36: 'File name too long', 39: 'Directory not empty', 40: 'Too many levels of symbolic links',
  75: 'Value too large for defined data type', 95: 'Operation not supported',
};

export function strerror(errno: number): string {
  return STRERROR[errno] ?? `Unknown error ${errno}`;
}

export class NftKernelError extends Error {
  constructor(readonly errno: number, readonly detail?: string, readonly opIndex?: number) {
    super(`Could not process rule: ${strerror(errno)}${detail ? ` (${detail})` : ''}`);
    this.name = 'NftKernelError';
  }
  /** The text nft 1.0.6 prints, without nfx's detail. */
  get nftMessage(): string { return `Could not process rule: ${strerror(this.errno)}`; }
}
