/**
 * Packets a local socket sends, with the socket known to xfrm: Linux's
 * ip_route_output_flow(net, fl4, sk) → xfrm_lookup_route(..., sk) consults
 * the socket's own policy (sk->sk_policy[XFRM_POLICY_OUT], set with
 * setsockopt(IP_XFRM_POLICY); here Xfrm.setSocketPolicy) before the SPD
 * (xfrm_sk_policy_lookup in xfrm_lookup_with_ifid). An IKE daemon's bypass
 * policy is the classic use: its own UDP 500/4500 must leave in clear even
 * where the SPD would protect or block them.
 */
import type { HostPath } from './walk.js';
import type { PacketOutcome } from './types.js';

const sending = new WeakMap<HostPath, string>();

/**
 * `path.output(l3)` as sent by the socket `sockId`: the xfrm output lookup
 * of this packet (not of the replies it causes) uses the socket's `out`
 * policy first. The socket's `in` policy applies to what is delivered to a
 * declared listener with the same `sockId` (HostPathOptions.listeners).
 */
export function outputFromSocket(p: HostPath, sockId: string, l3: Uint8Array): PacketOutcome {
  sending.set(p, sockId);
  try {
    return p.output(l3);
  } finally {
    sending.delete(p);
  }
}

/**
 * The socket sending the packet being routed: only the packet output()
 * itself sends (depth 0 of a local send); packets generated because of it
 * (ICMP errors, replies) are the kernel's own and have no socket policy.
 */
export function sendingSocket(p: HostPath): string | undefined {
  return p.depth === 0 ? sending.get(p) : undefined;
}
