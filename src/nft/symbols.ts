import { readFileSync } from 'node:fs';
/**
 * Symbolic constants per datatype, with the values nftables 1.0.6 uses
 * (src/proto.c, src/ct.c, src/meta.c, src/datatype.c tables, and the
 * system databases it reads: /etc/protocols, /etc/services, iproute2's
 * rt_realms/group files). The order of each table is the order nft lists
 * flag names in (`describe`, flag printing).
 */

type Table = ReadonlyMap<string, bigint>;
const t = (pairs: Record<string, number | bigint>): Table =>
  new Map(Object.entries(pairs).map(([k, v]) => [k, BigInt(v)]));

/** The machine's /etc/services (nft resolves service names with getservbyname). */
function systemServices(): [string, bigint][] {
  try {
    const text = readFileSync('/etc/services', 'utf8');
    const out: [string, bigint][] = [];
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z0-9][\w.+-]*)\s+(\d+)\/(tcp|udp)/.exec(line);
      if (m) out.push([m[1]!, BigInt(m[2]!)]);
    }
    return out;
  } catch {
    return [];
  }
}

export const SYMBOLS: Record<string, Table> = {
  // ct.c ct_state_tbl (NF_CT_STATE_*_BIT; untracked is 1 << 6)
  ct_state: t({ invalid: 1, established: 2, related: 4, new: 8, untracked: 64 }),
  ct_dir: t({ original: 0, reply: 1 }),
  // enum ip_conntrack_status (nf_conntrack_common.h)
  ct_status: t({ expected: 1, 'seen-reply': 2, assured: 4, confirmed: 8, snat: 16, dnat: 32, dying: 512 }),
  ct_event: t({ new: 1, related: 2, destroy: 4, reply: 8, assured: 16, protoinfo: 32, helper: 64, mark: 128, seqadj: 256, secmark: 512, label: 1024 }),
  // RFC 793 / 3168 TCP flag bits
  tcp_flag: t({ fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32, ecn: 64, cwr: 128 }),
  // RFC 792 ICMP types
  icmp_type: t({
    'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
    'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
    'timestamp-request': 13, 'timestamp-reply': 14, 'info-request': 15, 'info-reply': 16,
    'address-mask-request': 17, 'address-mask-reply': 18,
  }),
  // RFC 4443 / 4861 / 3810 ICMPv6 types
  icmpv6_type: t({
    'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4,
    'echo-request': 128, 'echo-reply': 129, 'mld-listener-query': 130, 'mld-listener-report': 131,
    'mld-listener-done': 132, 'mld-listener-reduction': 132, 'nd-router-solicit': 133, 'nd-router-advert': 134,
    'nd-neighbor-solicit': 135, 'nd-neighbor-advert': 136, 'nd-redirect': 137, 'router-renumbering': 138,
    'ind-neighbor-solicit': 141, 'ind-neighbor-advert': 142, 'mld2-listener-report': 143,
  }),
  icmp_code: t({
    'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3,
    'frag-needed': 4, 'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
  }),
  icmpv6_code: t({
    'no-route': 0, 'admin-prohibited': 1, 'addr-unreachable': 3, 'port-unreachable': 4,
    'policy-fail': 5, 'reject-route': 6,
  }),
  icmpx_code: t({ 'no-route': 0, 'port-unreachable': 1, 'host-unreachable': 2, 'admin-prohibited': 3 }),
  // if_ether.h ETH_P_*
  ether_type: t({ ip: 0x0800, arp: 0x0806, ip6: 0x86dd, '8021q': 0x8100, '8021ad': 0x88a8, vlan: 0x8100 }),
  // /etc/protocols as Debian ships it (the names nft resolves)
  inet_proto: t({
    ip: 0, hopopt: 0, icmp: 1, igmp: 2, ggp: 3, ipencap: 4, st: 5, tcp: 6, egp: 8, igp: 9, pup: 12, udp: 17,
    hmp: 20, 'xns-idp': 22, rdp: 27, 'iso-tp4': 29, dccp: 33, xtp: 36, ddp: 37, 'idpr-cmtp': 38,
    ipv6: 41, 'ipv6-route': 43, 'ipv6-frag': 44, idrp: 45, rsvp: 46, gre: 47, esp: 50, ah: 51,
    skip: 57, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, rspf: 73, vmtp: 81,
    eigrp: 88, ospf: 89, 'ax.25': 93, ipip: 94, etherip: 97, encap: 98, pim: 103, ipcomp: 108,
    comp: 108, vrrp: 112, l2tp: 115, isis: 124, sctp: 132, fc: 133, 'mobility-header': 135,
    udplite: 136, 'mpls-in-ip': 137, manet: 138, hip: 139, shim6: 140, wesp: 141, rohc: 142,
    ethernet: 143,
  }),
  // linux/netfilter.h NFPROTO_*
  nf_proto: t({ ipv4: 2, ipv6: 10 }),
  // linux/if_packet.h PACKET_*
  pkt_type: t({ host: 0, unicast: 0, broadcast: 1, multicast: 2, other: 3 }),
  // linux/if_arp.h ARPHRD_*
  iface_type: t({
    ether: 1, ppp: 512, ipip: 768, ipip6: 769, loopback: 772, sit: 776, ipgre: 778, infiniband: 32,
    ip6tnl: 769, ieee1394: 24, irda: 783, tunnel: 768, tunnel6: 769, hwx25: 272,
  }),
  arp_op: t({ request: 1, reply: 2, rrequest: 3, rreply: 4, inrequest: 8, inreply: 9, nak: 10 }),
  // RFC 2474 / 2597 / 3246 / 8622 DSCP code points
  dscp: t({
    cs0: 0, cs1: 8, cs2: 16, cs3: 24, cs4: 32, cs5: 40, cs6: 48, cs7: 56, df: 0, be: 0,
    af11: 10, af12: 12, af13: 14, af21: 18, af22: 20, af23: 22, af31: 26, af32: 28, af33: 30,
    af41: 34, af42: 36, af43: 38, ef: 46, va: 44, le: 1,
  }),
  // RFC 3168
  ecn: t({ 'not-ect': 0, ect1: 1, ect0: 2, ce: 3 }),
  // RFC 6275 §6.1.2 mobility header types
  mh_type: t({
    'binding-refresh-request': 0, 'home-test-init': 1, 'careof-test-init': 2, 'home-test': 3,
    'careof-test': 4, 'binding-update': 5, 'binding-acknowledgement': 6, 'binding-error': 7,
    'fast-binding-update': 8, 'fast-binding-acknowledgement': 9, 'fast-binding-advertisement': 10,
    'experimental-mobility-header': 11, 'home-agent-switch-message': 12,
  }),
  // RFC 4340 §5.1
  dccp_pkttype: t({
    request: 0, response: 1, data: 2, ack: 3, dataack: 4, closereq: 5, close: 6, reset: 7, sync: 8, syncack: 9,
  }),
  // RFC 3376
  igmp_type: t({
    'membership-query': 0x11, 'membership-report-v1': 0x12, 'membership-report-v2': 0x16,
    'membership-report-v3': 0x22, 'leave-group': 0x17,
  }),
  // rtnetlink.h RTN_*
  fib_addrtype: t({
    unspec: 0, unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6,
    unreachable: 7, prohibit: 8,
  }),
  day: t({ Sunday: 0, Monday: 1, Tuesday: 2, Wednesday: 3, Thursday: 4, Friday: 5, Saturday: 6 }),
  boolean: t({ exists: 1, missing: 0 }),
  devgroup: t({ default: 0 }),
  // /etc/passwd and /etc/group entries every system has
  uid: t({ root: 0, daemon: 1, bin: 2, sys: 3, nobody: 65534 }),
  gid: t({ root: 0, daemon: 1, bin: 2, sys: 3, nogroup: 65534 }),
  realm: t({ cosmos: 0 }),
  // /etc/services (the TCP names nft resolves with getservbyname)
  inet_service: t({
    tcpmux: 1, echo: 7, discard: 9, systat: 11, daytime: 13, netstat: 15, qotd: 17, chargen: 19,
    'ftp-data': 20, ftp: 21, ssh: 22, telnet: 23, smtp: 25, time: 37, whois: 43, tacacs: 49, domain: 53,
    gopher: 70, finger: 79, http: 80, kerberos: 88, 'iso-tsap': 102, 'acr-nema': 104, pop3: 110,
    sunrpc: 111, auth: 113, nntp: 119, ntp: 123, epmap: 135, 'netbios-ns': 137, 'netbios-dgm': 138,
    'netbios-ssn': 139, imap2: 143, snmp: 161, 'snmp-trap': 162, 'cmip-man': 163, 'cmip-agent': 164,
    mailq: 174, xdmcp: 177, bgp: 179, smux: 199, qmtp: 209, z3950: 210, ipx: 213, ptp: 319,
    'ptp-general': 320, pawserv: 345, zserv: 346, rpc2portmap: 369, codaauth2: 370, clearcase: 371,
    ldap: 389, svrloc: 427, https: 443, snpp: 444, 'microsoft-ds': 445, kpasswd: 464, submissions: 465,
    saft: 487, isakmp: 500, rtsp: 554, nqs: 607, 'asf-rmcp': 623, qmqp: 628, ipp: 631, ldp: 646,
    exec: 512, login: 513, shell: 514, printer: 515, gdomap: 538, uucp: 540, klogin: 543, kshell: 544,
    afpovertcp: 548, nntps: 563, submission: 587, ldaps: 636, tinc: 655, silc: 706, 'kerberos-adm': 749,
    domain_s: 853, rsync: 873, ftps: 990, telnets: 992, imaps: 993, pop3s: 995, socks: 1080,
    proofd: 1093, rootd: 1094, openvpn: 1194, rmiregistry: 1099, lotusnote: 1352, 'ms-sql-s': 1433,
    'ms-sql-m': 1434, ingreslock: 1524, 'datametrics': 1645, 'sa-msg-port': 1646, kermit: 1649,
    groupwise: 1677, l2f: 1701, radius: 1812, 'radius-acct': 1813, 'cisco-sccp': 2000, nfs: 2049,
    gnunet: 2086, 'rtcm-sc104': 2101, 'gsigatekeeper': 2119, gris: 2135, 'cvspserver': 2401,
    venus: 2430, 'venus-se': 2431, codasrv: 2432, 'codasrv-se': 2433, mon: 2583, dict: 2628,
    f5: 2600, gpsd: 2947, gds_db: 3050, icpv2: 3130, 'isns': 3205, iscsi: 3260, mysql: 3306,
    'ms-wbt-server': 3389, nut: 3493, distcc: 3632, daap: 3689, svn: 3690, suucp: 4031,
    sysrqd: 4094, sieve: 4190, epmd: 4369, remctl: 4373, 'f5-iquery': 4353, ntske: 4460, ipsec: 4500,
    'ipsec-nat-t': 4500, iax: 4569, mtn: 4691, 'radmin-port': 4899, sip: 5060, 'sip-tls': 5061,
    'xmpp-client': 5222, 'xmpp-server': 5269, cfengine: 5308, mdns: 5353, postgresql: 5432,
    freeciv: 5556, amqps: 5671, amqp: 5672, 'x11': 6000, 'x11-1': 6001, 'x11-2': 6002, 'x11-3': 6003,
    'x11-4': 6004, 'x11-5': 6005, 'x11-6': 6006, 'x11-7': 6007, 'gnutella-svc': 6346,
    'gnutella-rtr': 6347, 'redis': 6379, sge_qmaster: 6444, sge_execd: 6445, 'mysql-proxy': 6446,
    'babel': 6696, 'ircs-u': 6697, bbs: 7000, afs3: 7000, 'font-service': 7100, 'http-alt': 8080,
    puppet: 8140, 'bacula-dir': 9101, 'bacula-fd': 9102, 'bacula-sd': 9103, xmms2: 9667, nbd: 10809,
    zabbix: 10050, 'zabbix-trapper': 10051, amanda: 10080, dicom: 11112, hkp: 11371, db_lsp: 17500,
    dcap: 22125, gsidcap: 22128, wnn6: 22273, 'dhcpv6-client': 546, 'dhcpv6-server': 547, bootps: 67, bootpc: 68, tftp: 69, syslog: 514,
  }),
};
// Names the machine knows but the built-in table does not (first entry wins, as getservbyname).
for (const [n, v] of systemServices()) if (!SYMBOLS.inet_service!.has(n)) (SYMBOLS.inet_service as Map<string, bigint>).set(n, v);
