/**
 * What `ip route help`, and `ip route add|del|change|append|replace|prepend` without a
 * destination, print before exiting 255 (iproute_modify() calls usage() when no prefix was
 * given). The first line is iproute2's, so a script that looks for it finds it; the rest is
 * nfx's own summary of the route syntax it models, not iproute2's full list.
 */
export const IP_ROUTE_USAGE = `Usage: ip route { list | flush } SELECTOR
       ip route get [ fibmatch ] ADDRESS [ from ADDRESS iif STRING ]
                    [ oif STRING ] [ mark NUMBER ] [ tos TOS ]
       ip route { add | del | change | append | replace | prepend } ROUTE
SELECTOR := [ root PREFIX ] [ match PREFIX ] [ exact PREFIX ]
            [ table TABLE_ID ] [ proto RTPROTO ] [ type TYPE ] [ scope SCOPE ]
ROUTE := [ TYPE ] PREFIX [ tos TOS ] [ table TABLE_ID ] [ proto RTPROTO ]
         [ scope SCOPE ] [ metric METRIC ] [ via ADDRESS ] [ dev STRING ]
         [ src ADDRESS ] [ mtu [ lock ] NUMBER ] [ onlink ]
TYPE := { unicast | local | broadcast | multicast | anycast | throw |
          unreachable | prohibit | blackhole | nat }
TABLE_ID := [ local | main | default | all | NUMBER ]
SCOPE := [ host | link | global | NUMBER ]
RTPROTO := [ kernel | boot | static | NUMBER ]
`;
