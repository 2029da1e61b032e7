/**
 * Failures of xfrm operations, carried as the kernel returns them: an errno
 * and, where the kernel sets one, its extended-ack message (NL_SET_ERR_MSG in
 * net/xfrm/xfrm_user.c). `ip` prints the extack as "Error: <msg>." and falls
 * back to "RTNETLINK answers: <strerror>" (iproute2 lib/libnetlink.c,
 * rtnl_talk_error). Messages never contain key material.
 */
export type Errno =
  | 'EINVAL'
  | 'ESRCH'
  | 'EEXIST'
  | 'ENOENT'
  | 'ENOSYS'
  | 'EPERM'
  | 'ERANGE'
  | 'EPROTONOSUPPORT'
  | 'EAFNOSUPPORT'
  | 'EOPNOTSUPP'
  | 'ENAMETOOLONG';

/** strerror() texts from glibc. */
export const STRERROR: Record<Errno, string> = {
  EINVAL: 'Invalid argument',
  ESRCH: 'No such process',
  EEXIST: 'File exists',
  ENOENT: 'No such file or directory',
  ENOSYS: 'Function not implemented',
  EPERM: 'Operation not permitted',
  ERANGE: 'Numerical result out of range',
  EPROTONOSUPPORT: 'Protocol not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EOPNOTSUPP: 'Operation not supported',
  ENAMETOOLONG: 'File name too long',
};

export class XfrmError extends Error {
  override readonly name = 'XfrmError';
  constructor(
    readonly errno: Errno,
    readonly extack?: string,
  ) {
    super(extack ?? STRERROR[errno]);
  }
}

/** What iproute2 prints on stderr for a kernel error. */
export function formatKernelError(e: XfrmError): string {
  if (e.extack) return `Error: ${e.extack}${e.extack.endsWith('.') ? '' : '.'}\n`;
  return `RTNETLINK answers: ${STRERROR[e.errno]}\n`;
}
