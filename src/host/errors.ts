/**
 * A configuration command failed. The message is already in the shape the Linux
 * tool prints (`RTNETLINK answers: File exists`, `Error: Nexthop has invalid
 * gateway.`, `Cannot find device "eth9"`), and `status` is that tool's exit status:
 * iproute2 exits 2 when the kernel refused a request and 1 when it refused the
 * command line itself.
 */
export class HostError extends Error {
  override readonly name = 'HostError';
  constructor(message: string, readonly status: number = 2) {
    super(message);
  }
}

/** incomplete_command() (iproute2 lib/utils.c), for `ip` and `bridge`: a keyword without its value; it exits -1 (255). */
export function incompleteCommand(): never {
  throw new HostError('Command line is not complete. Try option "help"', 255);
}

/** The kernel's errno texts (strerror) iproute2 prints after `RTNETLINK answers: `. */
export const STRERROR = {
  EEXIST: 'File exists',
  ESRCH: 'No such process',
  ENOENT: 'No such file or directory',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENETUNREACH: 'Network is unreachable',
  EHOSTUNREACH: 'No route to host',
  EACCES: 'Permission denied',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  EOPNOTSUPP: 'Operation not supported',
  ERANGE: 'Numerical result out of range',
  EBUSY: 'Device or resource busy',
} as const;

export type Errno = keyof typeof STRERROR;

/** A request the kernel refused with an errno and no extended ack message. */
export function rtnetlink(errno: Errno): HostError {
  return new HostError(`RTNETLINK answers: ${STRERROR[errno]}`, 2);
}

/** A request the kernel refused with an extended ack message (NL_SET_ERR_MSG). */
export function extack(message: string): HostError {
  return new HostError(`Error: ${message}`, 2);
}

export function noDevice(name: string): HostError {
  return new HostError(`Cannot find device "${name}"`, 1);
}
