/**
 * The words nft 1.0.6's scanner always turns into keyword tokens: the rules of
 * scanner.l that carry no start condition, so they are active in the INITIAL
 * state where names are read. A name position in parser_bison.y is
 * `identifier: STRING`, so none of these can name a table, chain, set, map,
 * flowtable, object or define (`add chain ip t counter` → "syntax error,
 * unexpected counter, expecting string"). Words scanner.l only knows inside a
 * start condition (`dscp` in SCANSTATE_IP, `input`, `filter`, `in`, `out`,
 * which are plain strings in the grammar) stay valid names, as they are in nft.
 * Checked word by word against /usr/sbin/nft 1.0.6 with `nft -c -f`.
 */
export const NFT_KEYWORDS: ReadonlySet<string> = new Set(
  `
  accept add ah all and arp auto-merge bridge cgroup chain comment comp constant continue counter
  cpu create ct day dccp define delete describe device devices dnat drop dst dup dynamic ecn
  element elements eq esp ether exists expires export exthdr fib flags flow flowtable flush frag
  fwd gc-interval ge get goto gt handle hbh hook hour ibriport ibrname icmp icmpv6 igmp iif
  iifgroup iifname iiftype import include index inet insert interval ip ip6 ipsec jhash jump le
  limit list log lshift lt map mark masquerade meta meter mh missing monitor ne netdev nftrace not
  notrack numgen obriport obrname offload oif oifgroup oifname oiftype or osf pkttype policy
  position priority queue quota random redefine redirect reject rename replace reset return rshift
  rt rt0 rt2 rtclassid rule ruleset sctp secmark set size skgid skuid snat socket srh symhash
  synproxy table tcp th time timeout tproxy type typeof udp udplite undefine update vlan vmap xor
  xt
  `.trim().split(/\s+/),
);

/**
 * Keywords whose bison token has a symbol alias (%token AMPERSAND "&"): the
 * "unexpected X" of a syntax error names the alias. `or` is the character
 * token '|', which bison quotes.
 */
export const KEYWORD_ALIAS: Readonly<Record<string, string>> = {
  and: '&', or: "'|'", xor: '^', eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=', lshift: '<<', rshift: '>>', not: '!',
};
