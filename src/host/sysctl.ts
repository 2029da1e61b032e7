/**
 * Sysctls under /proc/sys/net as a namespace has them: Linux's built-in defaults
 * (read from a fresh namespace on Linux 6.18; the IPv4 `conf` values are the
 * kernel's ipv4_devconf defaults, since a new namespace copies init_net's when
 * net.core.devconf_inherit_init_net=0), per-interface copies and the kernel's
 * inheritance rules, and procps `sysctl` texts.
 */
import type { Host, Link } from './types.js';
import { HostError } from './errors.js';

/** Namespace-wide keys and defaults. */
const GLOBAL: Record<string, string> = {
  'net.ipv4.ip_forward': '0',
  'net.ipv4.ip_default_ttl': '64',
  'net.ipv4.ip_nonlocal_bind': '0',
  'net.ipv4.ip_no_pmtu_disc': '0',
  'net.ipv4.ip_forward_use_pmtu': '0',
  'net.ipv4.ip_local_port_range': '32768\t60999',
  'net.ipv4.ip_early_demux': '1',
  'net.ipv4.fwmark_reflect': '0',
  'net.ipv4.icmp_echo_ignore_all': '0',
  'net.ipv4.icmp_echo_ignore_broadcasts': '1',
  'net.ipv4.icmp_errors_use_inbound_ifaddr': '0',
  'net.ipv4.icmp_ignore_bogus_error_responses': '1',
  'net.ipv4.icmp_msgs_burst': '50',
  'net.ipv4.icmp_msgs_per_sec': '1000',
  'net.ipv4.icmp_ratelimit': '1000',
  'net.ipv4.icmp_ratemask': '6168',
  'net.ipv4.ipfrag_high_thresh': '4194304',
  'net.ipv4.ipfrag_low_thresh': '3145728',
  'net.ipv4.ipfrag_max_dist': '64',
  'net.ipv4.ipfrag_time': '30',
  'net.ipv4.tcp_syncookies': '1',
  'net.ipv6.fwmark_reflect': '0',
  'net.ipv6.ip6frag_high_thresh': '4194304',
  'net.ipv6.ip6frag_low_thresh': '3145728',
  'net.ipv6.ip6frag_time': '60',
  'net.ipv6.icmp.echo_ignore_all': '0',
  'net.ipv6.icmp.echo_ignore_anycast': '0',
  'net.ipv6.icmp.echo_ignore_multicast': '0',
  'net.ipv6.icmp.ratelimit': '100',
  'net.ipv6.icmp.ratemask': '0-1,3-127',
  'net.netfilter.nf_conntrack_acct': '0',
  'net.netfilter.nf_conntrack_buckets': '262144',
  'net.netfilter.nf_conntrack_checksum': '1',
  'net.netfilter.nf_conntrack_count': '0',
  'net.netfilter.nf_conntrack_events': '2',
  'net.netfilter.nf_conntrack_expect_max': '4096',
  'net.netfilter.nf_conntrack_frag6_high_thresh': '4194304',
  'net.netfilter.nf_conntrack_frag6_low_thresh': '3145728',
  'net.netfilter.nf_conntrack_frag6_timeout': '60',
  'net.netfilter.nf_conntrack_generic_timeout': '600',
  'net.netfilter.nf_conntrack_gre_timeout': '30',
  'net.netfilter.nf_conntrack_gre_timeout_stream': '180',
  'net.netfilter.nf_conntrack_icmp_timeout': '30',
  'net.netfilter.nf_conntrack_icmpv6_timeout': '30',
  'net.netfilter.nf_conntrack_log_invalid': '0',
  'net.netfilter.nf_conntrack_max': '262144',
  'net.netfilter.nf_conntrack_tcp_be_liberal': '0',
  'net.netfilter.nf_conntrack_tcp_ignore_invalid_rst': '0',
  'net.netfilter.nf_conntrack_tcp_loose': '1',
  'net.netfilter.nf_conntrack_tcp_max_retrans': '3',
  'net.netfilter.nf_conntrack_tcp_timeout_close': '10',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait': '60',
  'net.netfilter.nf_conntrack_tcp_timeout_established': '432000',
  'net.netfilter.nf_conntrack_tcp_timeout_fin_wait': '120',
  'net.netfilter.nf_conntrack_tcp_timeout_last_ack': '30',
  'net.netfilter.nf_conntrack_tcp_timeout_max_retrans': '300',
  'net.netfilter.nf_conntrack_tcp_timeout_syn_recv': '60',
  'net.netfilter.nf_conntrack_tcp_timeout_syn_sent': '120',
  'net.netfilter.nf_conntrack_tcp_timeout_time_wait': '120',
  'net.netfilter.nf_conntrack_tcp_timeout_unacknowledged': '300',
  'net.netfilter.nf_conntrack_timestamp': '0',
  'net.netfilter.nf_conntrack_udp_timeout': '30',
  'net.netfilter.nf_conntrack_udp_timeout_stream': '120',
  'net.netfilter.nf_flowtable_tcp_timeout': '30',
  'net.netfilter.nf_flowtable_udp_timeout': '30',
};

/** Read-only keys (writing them is EACCES in the kernel; procps says "Permission denied"). */
const READ_ONLY = new Set(['net.netfilter.nf_conntrack_count', 'net.ipv4.conf.*.mc_forwarding', 'net.ipv6.conf.*.mc_forwarding']);

/** net.ipv4.conf.<dev>.* (struct ipv4_devconf defaults, net/ipv4/devinet.c). */
const IPV4_CONF: Record<string, string> = {
  accept_local: '0', accept_redirects: '1', accept_source_route: '1', arp_accept: '0', arp_announce: '0',
  arp_evict_nocarrier: '1', arp_filter: '0', arp_ignore: '0', arp_notify: '0', bc_forwarding: '0',
  bootp_relay: '0', disable_policy: '0', disable_xfrm: '0', drop_gratuitous_arp: '0',
  drop_unicast_in_l2_multicast: '0', force_igmp_version: '0', forwarding: '0',
  igmpv2_unsolicited_report_interval: '10000', igmpv3_unsolicited_report_interval: '1000',
  ignore_routes_with_linkdown: '0', log_martians: '0', mc_forwarding: '0', medium_id: '0',
  promote_secondaries: '0', proxy_arp: '0', proxy_arp_pvlan: '0', route_localnet: '0', rp_filter: '0',
  secure_redirects: '1', send_redirects: '1', shared_media: '1', src_valid_mark: '0', tag: '0',
};

/** net.ipv6.conf.<dev>.* (ipv6_devconf_dflt, net/ipv6/addrconf.c). */
const IPV6_CONF: Record<string, string> = {
  accept_dad: '1', accept_ra: '1', accept_ra_defrtr: '1', accept_ra_from_local: '0', accept_ra_min_hop_limit: '1',
  accept_ra_mtu: '1', accept_ra_pinfo: '1', accept_ra_rtr_pref: '1', accept_redirects: '1', accept_source_route: '0',
  addr_gen_mode: '0', autoconf: '1', dad_transmits: '1', disable_ipv6: '0', disable_policy: '0',
  drop_unicast_in_l2_multicast: '0', drop_unsolicited_na: '0', enhanced_dad: '1', force_mld_version: '0',
  forwarding: '0', hop_limit: '64', ignore_routes_with_linkdown: '0', keep_addr_on_down: '0', max_addresses: '16',
  mc_forwarding: '0', mtu: '1280', ndisc_notify: '0', optimistic_dad: '0', proxy_ndp: '0', seg6_enabled: '0',
  suppress_frag_ndisc: '1', use_tempaddr: '0',
};

type Conf = { family: 4 | 6; dev: string; key: string };

function splitConf(key: string): Conf | null {
  const m = /^net\.ipv([46])\.conf\.([^.]+)\.([a-z0-9_]+)$/.exec(key);
  if (!m) return null;
  return { family: m[1] === '4' ? 4 : 6, dev: m[2]!, key: m[3]! };
}

function confTable(f: 4 | 6): Record<string, string> { return f === 4 ? IPV4_CONF : IPV6_CONF; }

/** Whether the key exists in this host (interface keys exist for its links, `all` and `default`). */
export function sysctlExists(host: Host, key: string): boolean {
  if (key in GLOBAL) return true;
  const c = splitConf(key);
  if (!c || !(c.key in confTable(c.family))) return false;
  return c.dev === 'all' || c.dev === 'default' || host.links.some((l) => l.name === c.dev);
}

/** The current value of a key, or undefined when the key does not exist. */
export function sysctlGet(host: Host, key: string): string | undefined {
  if (!sysctlExists(host, key)) return undefined;
  if (key === 'net.ipv4.ip_forward') return host.sysctl.get('net.ipv4.conf.all.forwarding') ?? GLOBAL[key];
  if (key === 'net.ipv6.conf.lo.mtu' || /^net\.ipv6\.conf\.[^.]+\.mtu$/.test(key)) {
    const c = splitConf(key)!;
    const l = host.links.find((x) => x.name === c.dev);
    if (l) return host.sysctl.get(key) ?? String(l.mtu);
  }
  const v = host.sysctl.get(key);
  if (v !== undefined) return v;
  const c = splitConf(key);
  // addrconf: the loopback device never runs DAD.
  if (c && c.family === 6 && c.key === 'accept_dad' && host.links.find((l) => l.name === c.dev)?.kind === 'loopback') return '-1';
  return c ? confTable(c.family)[c.key] : GLOBAL[key];
}

/** Integer value of a key (0 when absent). */
export function sysctlInt(host: Host, key: string): number {
  return parseInt(sysctlGet(host, key) ?? '0', 10) || 0;
}

/**
 * The value the kernel acts on for a per-interface IPv4 setting: rp_filter and
 * arp_ignore take the larger of `all` and the device (IN_DEV_MAXCONF);
 * accept_local, log_martians, route_localnet, src_valid_mark,
 * promote_secondaries and ignore_routes_with_linkdown are on if either is
 * (IN_DEV_ORCONF); forwarding and the rest are the device's own
 * (include/linux/inetdevice.h).
 */
export function ipv4Conf(host: Host, dev: string, key: string): number {
  const own = sysctlInt(host, `net.ipv4.conf.${dev}.${key}`);
  const all = sysctlInt(host, `net.ipv4.conf.all.${key}`);
  if (key === 'rp_filter' || key === 'arp_ignore' || key === 'arp_announce') return Math.max(own, all);
  if (['accept_local', 'log_martians', 'route_localnet', 'src_valid_mark', 'promote_secondaries',
    'ignore_routes_with_linkdown', 'proxy_arp', 'accept_source_route'].includes(key)) return own || all ? 1 : 0;
  return own;
}

/** IPv6: forwarding is namespace-wide (`all`); disable_ipv6 holds if either is set. */
export function ipv6Conf(host: Host, dev: string, key: string): number {
  if (key === 'forwarding') return sysctlInt(host, 'net.ipv6.conf.all.forwarding');
  const own = sysctlInt(host, `net.ipv6.conf.${dev}.${key}`);
  if (key === 'disable_ipv6') return own || sysctlInt(host, 'net.ipv6.conf.all.disable_ipv6') ? 1 : 0;
  return own;
}

function validValue(key: string, value: string): boolean {
  const t = value.trim();
  if (key === 'net.ipv4.ip_local_port_range') {
    // ipv4_local_port_range(): low below high, within [ip_unprivileged_port_start, 65535].
    const m = /^(\d+)\s+(\d+)$/.exec(t);
    return !!m && +m[1]! < +m[2]! && +m[1]! >= 1024 && +m[2]! <= 65535;
  }
  if (key === 'net.ipv6.icmp.ratemask') return /^[0-9,-]+$/.test(t);
  if (!/^-?\d+$/.test(t)) return false;
  const n = Number(t);
  const c = splitConf(key);
  if (c?.key === 'addr_gen_mode') return n >= 0 && n <= 3;
  if (key === 'net.ipv4.ip_default_ttl') return n >= 1 && n <= 255;
  // proc_dou8vec_minmax with 0..1 (nf_conntrack_proto_tcp.c, nf_conntrack_standalone.c).
  if (/nf_conntrack_(tcp_loose|tcp_be_liberal|checksum|acct|timestamp)$/.test(key)) return n >= 0 && n <= 1;
  return n >= -2147483648 && n <= 2147483647;
}

/**
 * Writes a key as the kernel's handlers do: ip_forward and conf.all.forwarding
 * switch every interface (inet_forward_change); writing an IPv4 `default` value
 * reaches the interfaces that never set it themselves (devinet_copy_dflt_conf);
 * IPv6 `all.forwarding` and `all.disable_ipv6` reach every interface.
 */
export function sysctlSet(host: Host, key: string, value: string): void {
  const procPath = '/proc/sys/' + key.replace(/\./g, '/');
  if (!sysctlExists(host, key)) throw new HostError(`sysctl: cannot stat ${procPath}: No such file or directory`, 1);
  const c = splitConf(key);
  if (READ_ONLY.has(key) || (c && READ_ONLY.has(`net.ipv${c.family}.conf.*.${c.key}`))) {
    // procps reports the kernel's EINVAL for read-only entries and still exits 0.
    throw new HostError(`sysctl: setting key "${key}": Invalid argument`, 0);
  }
  if (!validValue(key, value)) throw new HostError(`sysctl: setting key "${key}": Invalid argument`, 1);
  const v = key === 'net.ipv4.ip_local_port_range' ? value.trim().split(/\s+/).join('\t') : String(value.trim() === '' ? value : normaliseInt(value));
  if (key === 'net.ipv4.ip_forward' || key === 'net.ipv4.conf.all.forwarding') {
    for (const dev of ['all', 'default', ...host.links.map((l) => l.name)]) host.sysctl.set(`net.ipv4.conf.${dev}.forwarding`, v);
    return;
  }
  if (c && c.dev === 'all' && c.family === 6 && (c.key === 'forwarding' || c.key === 'disable_ipv6')) {
    for (const dev of ['all', 'default', ...host.links.map((l) => l.name)]) host.sysctl.set(`net.ipv6.conf.${dev}.${c.key}`, v);
    return;
  }
  host.sysctl.set(key, v);
  if (c && c.family === 4 && c.dev === 'default') {
    for (const l of host.links) {
      const k = `net.ipv4.conf.${l.name}.${c.key}`;
      if (!host.sysctlExplicit.has(k)) host.sysctl.set(k, v);
    }
  } else if (c && c.dev !== 'all' && c.dev !== 'default') {
    host.sysctlExplicit.add(key);
    if (c.family === 6 && c.key === 'addr_gen_mode') {
      const l = host.links.find((x) => x.name === c.dev);
      if (l) l.addrGenMode = v === '1' ? 'none' : 'eui64';
    }
  }
}

function normaliseInt(v: string): string {
  const t = v.trim();
  return /^-?\d+$/.test(t) ? String(Number(t)) : t;
}

/** A new link's configuration starts as a copy of `default` (devinet_init / ipv6_add_dev). */
export function inheritDefaults(host: Host, link: Link): void {
  for (const f of [4, 6] as const) {
    for (const k of Object.keys(confTable(f))) {
      const d = host.sysctl.get(`net.ipv${f}.conf.default.${k}`);
      if (d === undefined) continue;
      host.sysctl.set(`net.ipv${f}.conf.${link.name}.${k}`, d);
      // inetdev_init() copies `default` with its "was set" bits, so such a key no longer follows `default`.
      if (f === 4) host.sysctlExplicit.add(`net.ipv4.conf.${link.name}.${k}`);
    }
  }
  if (sysctlInt(host, 'net.ipv6.conf.default.addr_gen_mode') === 1) link.addrGenMode = 'none';
}

/** A deleted link's keys go with it. */
export function dropLinkSysctls(host: Host, name: string): void {
  for (const k of [...host.sysctl.keys()]) {
    const c = splitConf(k);
    if (c && c.dev === name) { host.sysctl.delete(k); host.sysctlExplicit.delete(k); }
  }
}

/** Every key of the host, sorted as `sysctl -a` lists them. */
export function sysctlKeys(host: Host): string[] {
  const keys = Object.keys(GLOBAL);
  for (const f of [4, 6] as const) {
    for (const dev of ['all', 'default', ...host.links.map((l) => l.name)]) {
      for (const k of Object.keys(confTable(f))) keys.push(`net.ipv${f}.conf.${dev}.${k}`);
    }
  }
  return keys.sort();
}
