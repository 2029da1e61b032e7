/**
 * The nft abstract syntax tree: what the parser produces and the evaluator
 * annotates (datatype, length, byte order), before linearization to
 * bytecode. Names follow nftables' expression/statement types (expression.h,
 * statement.h).
 */
import type { SourceLocation } from '../netfilter/bytecode.js';
import type { Datatype } from './datatypes.js';

export type Loc = SourceLocation;

/** Filled in by the evaluator, as nft's `struct expr` dtype/len/byteorder. */
export interface Typed {
  dtype?: Datatype;
  /** Length in bits. */
  len?: number;
  byteorder?: 'big' | 'host';
}

interface Node extends Typed { loc: Loc }

export interface SymbolExpr extends Node { kind: 'symbol'; text: string; quoted: boolean }
export interface VariableExpr extends Node { kind: 'variable'; name: string }
/** A constant after evaluation: raw register bytes in the dtype's byte order. */
export interface ValueExpr extends Node { kind: 'value'; bytes: Uint8Array }
export interface PayloadExprA extends Node { kind: 'payload'; proto: string; field: string; raw?: { base: number; offset: number; len: number } }
export interface ExthdrExprA extends Node { kind: 'exthdr'; op: 'ipv6' | 'tcpopt' | 'ipv4' | 'sctp' | 'dccp'; hdr: string; field: string; present?: boolean }
export interface MetaExprA extends Node { kind: 'meta'; key: string }
export interface CtExprA extends Node { kind: 'ct'; key: string; dir?: 'original' | 'reply' }
export interface RtExprA extends Node { kind: 'rt'; key: string; family?: 'ip' | 'ip6' }
export interface FibExprA extends Node { kind: 'fib'; flags: string[]; result: string }
export interface SocketExprA extends Node { kind: 'socket'; key: string; level?: number }
export interface OsfExprA extends Node { kind: 'osf'; key: string; ttl?: string }
export interface HashExprA extends Node { kind: 'hash'; hashType: 'jhash' | 'symhash'; expr?: Expr; modulus: number; seed?: number; offset?: number }
export interface NumgenExprA extends Node { kind: 'numgen'; mode: 'inc' | 'random'; modulus: number; offset?: number }
export interface IpsecExprA extends Node { kind: 'ipsec'; dir: 'in' | 'out'; spnum: number; key: string; family?: 'ip' | 'ip6' }
export interface PrefixExpr extends Node { kind: 'prefix'; expr: Expr; plen: number }
export interface RangeExprA extends Node { kind: 'range'; low: Expr; high: Expr }
export interface ConcatExpr extends Node { kind: 'concat'; parts: Expr[] }
export interface SetElemExpr extends Node {
  kind: 'elem';
  key: Expr;
  timeout?: number;
  expires?: number;
  comment?: string;
  stmts?: Stmt[];
}
export interface MappingExpr extends Node { kind: 'mapping'; key: Expr; value: Expr }
export interface SetExpr extends Node { kind: 'set'; elems: Expr[] }
export interface SetRefExpr extends Node { kind: 'setref'; name: string }
export interface MapExpr extends Node { kind: 'map'; key: Expr; map: Expr }
export interface BinopExpr extends Node { kind: 'binop'; op: '&' | '|' | '^' | '<<' | '>>'; left: Expr; right: Expr; /** `value / mask` on a flag rhs. */ masked?: boolean }
/** A comma list of flag values (`syn,ack`), OR-ed together. */
export interface ListExpr extends Node { kind: 'list'; items: Expr[] }
export interface VerdictExprA extends Node { kind: 'verdict'; verdict: string; chain?: string }
export interface WildcardExpr extends Node { kind: 'wildcard' }

export type Expr =
  | SymbolExpr | VariableExpr | ValueExpr | PayloadExprA | ExthdrExprA | MetaExprA | CtExprA | RtExprA
  | FibExprA | SocketExprA | OsfExprA | HashExprA | NumgenExprA | IpsecExprA | PrefixExpr | RangeExprA
  | ConcatExpr | SetElemExpr | MappingExpr | SetExpr | SetRefExpr | MapExpr | BinopExpr | ListExpr
  | VerdictExprA | WildcardExpr;

/** `!` is nft's negated flag test (`tcp flags ! syn`). */
export type RelOp = 'implicit' | '==' | '!=' | '<' | '>' | '<=' | '>=' | '!';

export interface MatchStmt { kind: 'match'; loc: Loc; left: Expr; op: RelOp; right: Expr }
/** `block`: the rules of an anonymous chain (`jump { ... }`, parser_bison.y chain_stmt). */
export interface VerdictStmt { kind: 'verdict'; loc: Loc; expr: Expr; block?: RuleAst[] }
export interface CounterStmt { kind: 'counter'; loc: Loc; packets?: number; bytes?: number }
export interface ObjrefStmt { kind: 'objref'; loc: Loc; objType: string; name?: string; expr?: Expr }
export interface LogStmt {
  kind: 'log'; loc: Loc; prefix?: string; group?: number; snaplen?: number; qthreshold?: number;
  level?: string; flags: string[];
}
export interface LimitStmt { kind: 'limit'; loc: Loc; over: boolean; rate: number; unit: string; bytes: boolean; burst?: number; burstUnit?: string }
export interface QuotaStmt { kind: 'quota'; loc: Loc; over: boolean; bytes: number; used?: number }
export interface SetStmtField { kind: 'field_set'; loc: Loc; target: Expr; value: Expr }
export interface NatStmt {
  kind: 'nat'; loc: Loc; type: 'snat' | 'dnat' | 'masquerade' | 'redirect';
  family?: 'ip' | 'ip6'; addr?: Expr; port?: Expr; flags: string[];
  /** `snat ip prefix to ...`, `dnat to ... map` forms. */
  prefix?: boolean;
}
export interface RejectStmt { kind: 'reject'; loc: Loc; with?: { family: 'icmp' | 'icmpv6' | 'icmpx' | 'tcp'; code?: Expr } }
export interface QueueStmt { kind: 'queue'; loc: Loc; num?: Expr; flags: string[] }
export interface DupStmt { kind: 'dup'; loc: Loc; addr?: Expr; dev?: Expr; family?: 'ip' | 'ip6' }
export interface FwdStmt { kind: 'fwd'; loc: Loc; dev: Expr; addr?: Expr; family?: 'ip' | 'ip6' }
export interface NotrackStmt { kind: 'notrack'; loc: Loc }
export interface FlowStmt { kind: 'flow_offload'; loc: Loc; table: string }
/** `add|update|delete @set { ... }`; `meter NAME [size N] { ... }` is an update of the set the rule declares (`meter`). */
export interface DynsetStmt { kind: 'dynset'; loc: Loc; op: 'add' | 'update' | 'delete'; set: string; key: Expr; data?: Expr; timeout?: number; stmts: Stmt[]; meter?: { size?: number } }
export interface SynproxyStmt { kind: 'synproxy'; loc: Loc; mss?: number; wscale?: number; flags: string[] }
export interface TproxyStmt { kind: 'tproxy'; loc: Loc; family?: 'ip' | 'ip6'; addr?: Expr; port?: Expr }
export interface ConnlimitStmt { kind: 'connlimit'; loc: Loc; over: boolean; count: number }
export interface CommentStmt { kind: 'comment'; loc: Loc; text: string }
/** `reset tcp option NAME` (nft's optstrip statement): `name` as written, a name or a kind number. */
export interface OptResetStmt { kind: 'optreset'; loc: Loc; name: string; nameLoc: Loc }

export type Stmt =
  | MatchStmt | VerdictStmt | CounterStmt | ObjrefStmt | LogStmt | LimitStmt | QuotaStmt | SetStmtField
  | NatStmt | RejectStmt | QueueStmt | DupStmt | FwdStmt | NotrackStmt | FlowStmt | DynsetStmt
  | SynproxyStmt | TproxyStmt | ConnlimitStmt | CommentStmt | OptResetStmt;

export interface RuleAst { loc: Loc; stmts: Stmt[]; comment?: string; text: string }

// --- commands ---

export type Family = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

export interface TableSpec { family: Family; table: string }
export interface ChainSpec extends TableSpec { chain?: string; handle?: number }

export interface ChainBody {
  type?: string; hook?: string; device?: string[]; priority?: Expr; policy?: string;
  comment?: string; rules: RuleAst[];
}
export interface SetBody {
  isMap: boolean;
  keyType?: string[];
  keyTypeof?: Expr;
  dataType?: string[];
  dataTypeof?: Expr;
  flags: string[];
  timeout?: number;
  gcInterval?: number;
  size?: number;
  policy?: string;
  elements?: Expr[];
  stmts?: Stmt[];
  comment?: string;
  autoMerge?: boolean;
}
export interface ObjBody { objType: string; tokens: string[]; loc: Loc }

export type CmdObject =
  | { obj: 'table'; spec: TableSpec & { handle?: number }; flags?: string[]; comment?: string; children?: Command[] }
  | { obj: 'chain'; spec: ChainSpec; body?: ChainBody }
  | { obj: 'rule'; spec: ChainSpec; position?: { kind: 'position' | 'handle' | 'index'; value: number }; rule?: RuleAst }
  | { obj: 'set' | 'map'; spec: TableSpec & { name?: string; handle?: number }; body?: SetBody }
  | { obj: 'element'; spec: TableSpec & { name: string }; elements: Expr[] }
  | { obj: 'flowtable'; spec: TableSpec & { name?: string; handle?: number }; hook?: string; priority?: Expr; devices?: string[] }
  | { obj: 'object'; objType: string; spec: TableSpec & { name?: string; handle?: number }; body?: ObjBody }
  | { obj: 'ruleset'; family?: Family }
  | { obj: 'other'; words: string[] };

export type Verb = 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'destroy' | 'list' | 'flush' | 'reset' | 'rename' | 'describe' | 'get' | 'monitor';

export interface Command { verb: Verb; loc: Loc; target: CmdObject; newName?: string; describe?: Expr }
