/**
 * The virtual host (one network namespace): configuration model, FIB lookup,
 * persistence and the script runner. The packet path builds on these.
 */
export type { Host, Link, LinkKind, IfAddr, Route, RouteType, Rule, RuleAction, Neigh, NudState } from './types.js';
export { RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, RT_TABLE_MAIN, RT_TABLE_LOCAL, RT_TABLE_DEFAULT } from './types.js';
export { newHost, linkAdd, linkDel, linkSetUp, addrAdd, addrDel, isLocalAddr } from './model.js';
export { route, tableLookup, ruleMatches, selectSrc4, selectSrc6, type FlowKey, type RouteResult, type RouteResultType } from './fib.js';
export { routeAdd, routeDel } from './routes.js';
export { ruleAdd, ruleDel, neighAdd, neighDel, neighLookup } from './rules.js';
export { linkByIndex, linkByName, hasCarrier, deriveMac, eui64LinkLocal } from './links.js';
export { sysctlGet, sysctlSet, sysctlInt, ipv4Conf, ipv6Conf, sysctlKeys } from './sysctl.js';
export { loadHost, saveHost, hostPath, listHosts, addHost, delHost, writeAtomic, hostToJson, hostFromJson, type StoreContext } from './store.js';
export { runScript, parseScript, builtinHandlers, type ScriptHandler, type ScriptEnv, type RunScriptResult } from './script.js';
export { runIp } from './ip/index.js';
export { runSysctl } from './sysctl-cmd.js';
export { HostError } from './errors.js';
export { parseAddr, formatAddr, parsePrefix, prefixMatch, type Family, type Prefix } from './inet.js';
