/**
 * The nft command language (parser_bison.y's `input`/`line`/`cmd` rules):
 * commands on tables, chains, rules, sets, maps, elements, flowtables and
 * objects; `table { ... }` blocks; `define`; `include`. Hand-written
 * recursive descent over the scanner's tokens.
 */
import type { ChainBody, Command, Expr, Family, Loc, SetBody, Verb } from './ast.js';
import { NftError, nearest } from './diagnostics.js';

const OBJECT_WORDS = ['table', 'chain', 'rule', 'set', 'map', 'element', 'flowtable', 'counter', 'quota', 'limit', 'ct', 'secmark', 'synproxy', 'ruleset'];
import { parseTime } from './parser-expr.js';
import { StmtParser } from './parser-stmt.js';
import { Scanner, ScanError } from './scanner.js';
import { Cursor } from './tokens.js';
import { NFT_KEYWORDS } from './keywords.js';

const FAMILIES = new Set<Family>(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
/** The plural list commands with a `TABLE table_spec` form besides `ruleset_spec`. */
const TABLE_FORMS: ReadonlySet<string> = new Set(['counters', 'quotas', 'sets', 'maps', 'limits']);
const VERBS = new Set<Verb>(['add', 'create', 'insert', 'replace', 'delete', 'destroy', 'list', 'flush', 'reset', 'rename', 'describe', 'get', 'monitor']);
const OBJ_TYPES = ['counter', 'quota', 'limit', 'secmark', 'synproxy'];
export const TOP_KEYWORDS = [...VERBS, 'table', 'chain', 'set', 'map', 'element', 'flowtable', 'define', 'include', 'rule'];

export interface ParseResult {
  commands: Command[];
  /** `define` values, by name, as parsed expressions. */
  defines: Map<string, Expr>;
}

export interface ParseOptions {
  /** Resolves `include "file"`: returns its text, or undefined if missing. */
  include?: (path: string) => string | undefined;
  defines?: Map<string, Expr>;
}

/** Parses a whole input (file or command line). Throws NftError on the first error. */
export function parse(src: string, file: string, opts: ParseOptions = {}): ParseResult {
  let toks;
  try {
    toks = new Scanner(src, file).tokenize();
  } catch (e) {
    if (e instanceof ScanError) throw new NftError('SYNTAX', [e.message.replace(/^syntax error, /, '')], e.loc);
    throw e;
  }
  const p = new CommandParser(new Cursor(toks, src), opts);
  return { commands: p.input(), defines: p.defines };
}

class CommandParser {
  readonly s: StmtParser;
  readonly defines: Map<string, Expr>;
  constructor(readonly c: Cursor, readonly opts: ParseOptions) {
    this.s = new StmtParser(c);
    this.defines = opts.defines ?? new Map();
  }

  private sep(): void { while (this.c.peek().kind === 'newline' || this.c.isPunct(';')) this.c.next(); }

  /**
   * parser_bison.y table_block / chain_block / set_block: every item but `elements = { }`
   * and `auto-merge` ends with a stmt_separator, so `chain c { accept }` is
   * "unexpected '}', expecting newline or semicolon", as in nft.
   */
  private endItem(): void {
    if (this.c.peek().kind !== 'newline' && !this.c.isPunct(';')) throw this.c.unexpected('newline or semicolon');
    this.sep();
  }

  input(): Command[] {
    const out: Command[] = [];
    this.sep();
    while (this.c.peek().kind !== 'eof') {
      out.push(...this.line());
      if (this.c.peek().kind !== 'eof' && this.c.peek().kind !== 'newline' && !this.c.isPunct(';')) this.endOfCommand();
      this.sep();
    }
    return out;
  }

  private line(): Command[] {
    const c = this.c;
    const t = c.peek();
    if (c.acceptWord('define') || c.acceptWord('redefine')) {
      const name = c.expectIdentifier().text;
      c.expectPunct('=');
      this.defines.set(name, this.s.e.expr());
      return [];
    }
    if (c.acceptWord('undefine')) { this.defines.delete(c.expectIdentifier().text); return []; }
    if (c.acceptWord('include')) {
      const f = c.next();
      const text = this.opts.include?.(f.text);
      if (text === undefined) throw new NftError('GENERIC', [`File not found: ${f.text}`], f.loc);
      return parse(text, f.text, { ...this.opts, defines: this.defines }).commands;
    }
    if (t.kind === 'word' && VERBS.has(t.text as Verb)) {
      c.next();
      return [this.command(t.text as Verb, t.loc)];
    }
    if (c.isWord('table') || c.isWord('chain') || c.isWord('rule') || c.isWord('set') || c.isWord('map') || c.isWord('element') || c.isWord('flowtable')) {
      return [this.command('add', t.loc)];
    }
    throw c.unexpected();
  }

  private family(): Family {
    const t = this.c.peek();
    // A family word is always the family (its token is a keyword, never a name):
    // `add table ip` is "unexpected newline, expecting string", as in nft.
    if (t.kind === 'word' && FAMILIES.has(t.text as Family)) {
      this.c.next();
      return t.text as Family;
    }
    return 'ip';
  }

  private command(verb: Verb, loc: Loc): Command {
    const c = this.c;
    const objTok = c.peek();
    const obj = c.expectName().text;
    const cmd = (target: Command['target']): Command => ({ verb, loc: c.span(loc, c.prevLoc()), target });
    switch (obj) {
      case 'table': {
        const family = this.family();
        this.needName(verb);
        // tableid_spec: `delete table [FAMILY] handle N`.
        if ((verb === 'delete' || verb === 'destroy') && c.acceptWord('handle')) return cmd({ obj: 'table', spec: { family, table: '', handle: c.expectNumber() } });
        const table = c.expectIdentifier().text;
        if (verb === 'rename') throw c.unexpected();
        if (c.isPunct('{')) {
          const opts: { flags?: string[]; comment?: string } = {};
          const children = this.tableBlock(family, table, opts);
          return cmd({ obj: 'table', spec: { family, table }, children, ...opts });
        }
        return cmd({ obj: 'table', spec: { family, table } });
      }
      case 'chain': {
        const family = this.family();
        const table = c.expectIdentifier().text;
        if (c.acceptWord('handle')) return cmd({ obj: 'chain', spec: { family, table, handle: c.expectNumber() } });
        // chain_spec and chainid_spec both need the name (`flush chain ip t` means no chain of t).
        this.needName(verb);
        const chain = c.expectIdentifier().text;
        if (verb === 'rename') { const r = cmd({ obj: 'chain', spec: { family, table, chain } }); r.newName = c.expectIdentifier().text; return r; }
        if (c.isPunct('{')) return cmd({ obj: 'chain', spec: { family, table, chain }, body: this.chainBlock() });
        return cmd({ obj: 'chain', spec: { family, table, chain } });
      }
      case 'rule': {
        const family = this.family();
        const table = c.expectIdentifier().text;
        const chain = c.expectIdentifier().text;
        // ruleid_spec: a rule is deleted by its handle only.
        if ((verb === 'delete' || verb === 'destroy') && !c.isWord('handle')) throw c.unexpected('handle');
        let position: { kind: 'position' | 'handle' | 'index'; value: number } | undefined;
        if (c.isWord('position') || c.isWord('handle') || c.isWord('index')) {
          const k = c.next().text as 'position';
          position = { kind: k, value: c.expectNumber() };
        }
        if (verb === 'delete' || verb === 'get' || verb === 'reset') return cmd({ obj: 'rule', spec: { family, table, chain }, position });
        const rule = this.s.rule();
        return cmd({ obj: 'rule', spec: { family, table, chain }, position, rule });
      }
      case 'set': case 'map': {
        const family = this.family();
        const table = c.expectIdentifier().text;
        if (c.acceptWord('handle')) return cmd({ obj, spec: { family, table, handle: c.expectNumber() } });
        this.needName(verb);
        const name = c.isPunct('{') ? undefined : c.expectIdentifier().text;
        if (c.isPunct('{')) return cmd({ obj, spec: { family, table, name }, body: this.setBlock(obj === 'map') });
        return cmd({ obj, spec: { family, table, name } });
      }
      case 'element': {
        const family = this.family();
        const table = c.expectIdentifier().text;
        const name = c.expectIdentifier().text;
        // set_block_expr: a `{ ... }` list or a variable holding one.
        if (!c.isPunct('{') && !(c.peek().kind === 'word' && c.peek().variable)) throw c.unexpected("'{' or '$'");
        const set = this.s.e.setLiteral();
        return cmd({ obj: 'element', spec: { family, table, name }, elements: set.kind === 'set' ? set.elems : [] });
      }
      case 'flowtable': {
        const family = this.family();
        const table = c.expectIdentifier().text;
        this.needName(verb);
        // flowtableid_spec: `delete flowtable [FAMILY] TABLE handle N`.
        if ((verb === 'delete' || verb === 'destroy') && c.acceptWord('handle')) return cmd({ obj: 'flowtable', spec: { family, table, handle: c.expectNumber() } });
        const name = c.isPunct('{') ? undefined : c.expectIdentifier().text;
        const r = cmd({ obj: 'flowtable', spec: { family, table, name } });
        if (c.isPunct('{')) this.skipBlock();
        return r;
      }
      case 'ruleset': {
        const t = c.peek();
        const family = t.kind === 'word' && FAMILIES.has(t.text as Family) ? (c.next().text as Family) : undefined;
        this.endOfCommand();
        return cmd({ obj: 'ruleset', family });
      }
      case 'ct': {
        const sub = c.expectName().text;
        // parser_bison.y list_cmd `CT ct_cmd_type TABLE table_spec` (ct_cmd_type: helpers,
        // timeout, expectation): every such object of one table. `helpers` has no other form,
        // so `list ct helpers` alone is "expecting table".
        if (verb === 'list' && (sub === 'helpers' || ((sub === 'timeout' || sub === 'expectation') && c.isWord('table')))) {
          c.expectWord('table');
          const family = this.family();
          const table = c.expectIdentifier().text;
          return cmd({ obj: 'other', words: ['ct', sub === 'helpers' ? sub : `${sub}s`, 'table', family, table] });
        }
        if (!['helper', 'timeout', 'expectation'].includes(sub)) throw c.unexpected();
        return this.object(verb, loc, `ct ${sub}`);
      }
      case 'meter': {
        // list_cmd `METER set_spec`: one meter, by family (ip when left out), table and name.
        if (verb !== 'list') throw new NftError('UNEXPECTED', [obj], objTok.loc, [], nearest(objTok.text, OBJECT_WORDS));
        const family = this.family();
        const table = c.expectIdentifier().text;
        const name = c.expectIdentifier().text;
        return cmd({ obj: 'other', words: ['meter', family, table, name] });
      }
      default:
        if (OBJ_TYPES.includes(obj)) return this.object(verb, loc, obj);
        if (obj === 'counters' || obj === 'quotas' || obj === 'sets' || obj === 'maps' || obj === 'tables' || obj === 'chains' || obj === 'flowtables' || obj === 'limits' || obj === 'meters') {
          // list_cmd: `TABLES ruleset_spec`, `SETS ruleset_spec | SETS TABLE table_spec`, ...: an
          // optional family, or (sets, maps and the stateful objects) `table [FAMILY] NAME`, then
          // the end of the command; bison names the first word too many.
          const words: string[] = [obj];
          const f = c.peek();
          if (f.kind === 'word' && FAMILIES.has(f.text as Family)) words.push(c.next().text);
          else if (TABLE_FORMS.has(obj) && c.isWord('table')) {
            words.push(c.next().text);
            const tf = c.peek();
            if (tf.kind === 'word' && FAMILIES.has(tf.text as Family)) words.push(c.next().text);
            words.push(c.expectIdentifier().text);
          }
          this.endOfCommand();
          return cmd({ obj: 'other', words });
        }
        throw new NftError('UNEXPECTED', [objTok.kind === 'word' ? objTok.text : c.describe(objTok)], objTok.loc, [], nearest(objTok.text, OBJECT_WORDS));
    }
  }

  /**
   * The object's name must come now (table_spec, chain_spec, set_spec, obj_spec ...): a command
   * cut short before it is bison's error, which also offers `handle` where the verb takes one.
   */
  private needName(verb: Verb): void {
    const t = this.c.peek();
    if (t.kind === 'eof' || t.kind === 'newline' || (t.kind === 'punct' && t.text === ';')) {
      throw this.c.unexpected(verb === 'delete' || verb === 'destroy' ? 'handle or string' : 'string');
    }
  }

  /**
   * The command ends here: a word too many is bison's error, which names a word that is no
   * keyword `string` (nfx names the word elsewhere, where it can hint at a keyword).
   */
  private endOfCommand(): void {
    const c = this.c;
    if (c.atEnd()) return;
    const t = c.peek();
    const name = t.kind === 'word' && !t.variable && !t.setRef && !NFT_KEYWORDS.has(t.text) ? 'string' : c.describe(t);
    throw new NftError('UNEXPECTED_EXPECTING', [name, 'end of file or newline or semicolon'], t.loc);
  }

  private object(verb: Verb, loc: Loc, objType: string): Command {
    const c = this.c;
    const family = this.family();
    const table = c.expectIdentifier().text;
    if (c.acceptWord('handle')) return { verb, loc, target: { obj: 'object', objType, spec: { family, table, handle: c.expectNumber() } } };
    this.needName(verb);
    const name = c.expectIdentifier().text;
    const start = c.peek();
    const tokens: string[] = [];
    let depth = 0;
    while (c.peek().kind !== 'eof' && (depth > 0 || !c.atEnd() || c.isPunct('{') || (depth > 0 && c.isPunct('}')))) {
      const t = c.next();
      if (t.kind === 'punct' && t.text === '{') depth++;
      if (t.kind === 'punct' && t.text === '}') depth--;
      tokens.push(t.kind === 'string' ? JSON.stringify(t.text) : t.text);
      if (depth === 0 && c.atEnd() && !c.isPunct('}')) break;
      if (depth === 0 && c.isPunct('}')) break;
    }
    return { verb, loc, target: { obj: 'object', objType, spec: { family, table, name }, body: { objType, tokens, loc: start.loc } } };
  }

  private skipBlock(): void {
    const c = this.c;
    c.expectPunct('{');
    let depth = 1;
    while (depth > 0) {
      const t = c.next();
      if (t.kind === 'eof') throw c.unexpected("'}'", t);
      if (t.kind === 'punct' && t.text === '{') depth++;
      if (t.kind === 'punct' && t.text === '}') depth--;
    }
  }

  private tableBlock(family: Family, table: string, opts: { flags?: string[]; comment?: string } = {}): Command[] {
    const c = this.c;
    c.expectPunct('{');
    const out: Command[] = [];
    this.sep();
    while (!c.isPunct('}')) {
      const t = c.peek();
      if (c.acceptWord('chain')) {
        const chain = c.expectIdentifier().text;
        out.push({ verb: 'add', loc: t.loc, target: { obj: 'chain', spec: { family, table, chain }, body: this.chainBlock() } });
      } else if (c.isWord('set') || c.isWord('map')) {
        const kind = c.next().text as 'set' | 'map';
        const name = c.expectIdentifier().text;
        out.push({ verb: 'add', loc: t.loc, target: { obj: kind, spec: { family, table, name }, body: this.setBlock(kind === 'map') } });
      } else if (c.acceptWord('flowtable')) {
        const name = c.expectIdentifier().text;
        this.skipBlock();
        out.push({ verb: 'add', loc: t.loc, target: { obj: 'flowtable', spec: { family, table, name } } });
      } else if (c.acceptWord('flags')) {
        // table_options: `flags dormant[, ...]`, `comment "..."`.
        const flags: string[] = [];
        do flags.push(c.expectName().text); while (c.acceptPunct(','));
        opts.flags = flags;
      } else if (c.acceptWord('comment')) {
        opts.comment = c.expectName().text;
      } else if (c.isWord('ct') || OBJ_TYPES.includes(t.text)) {
        let objType = c.next().text;
        if (objType === 'ct') objType = `ct ${c.expectName().text}`;
        const name = c.expectIdentifier().text;
        const tokens: string[] = [];
        this.c.expectPunct('{');
        let depth = 1;
        for (;;) {
          const x = c.next();
          if (x.kind === 'eof') throw c.unexpected("'}'", x);
          if (x.kind === 'punct' && x.text === '{') depth++;
          if (x.kind === 'punct' && x.text === '}' && --depth === 0) break;
          // A line break separates settings as `;` does (none before the first setting).
          if (x.kind === 'newline') { if (tokens.length && tokens[tokens.length - 1] !== ';') tokens.push(';'); continue; }
          tokens.push(x.kind === 'string' ? JSON.stringify(x.text) : x.text);
        }
        out.push({ verb: 'add', loc: t.loc, target: { obj: 'object', objType, spec: { family, table, name }, body: { objType, tokens, loc: t.loc } } });
      } else throw c.unexpected();
      this.endItem();
    }
    c.expectPunct('}');
    return out;
  }

  chainBlock(): ChainBody {
    const c = this.c;
    c.expectPunct('{');
    const body: ChainBody = { rules: [] };
    this.sep();
    while (!c.isPunct('}')) {
      if (c.isWord('type') && c.peek(1).kind === 'word' && c.isWord('hook', 2)) {
        c.next();
        body.type = c.next().text;
        c.expectWord('hook');
        body.hook = c.expectName().text;
        if (c.acceptWord('device')) {
          if (c.isPunct('{')) { const s = this.s.e.setLiteral(); body.device = s.kind === 'set' ? s.elems.map((e) => (e.kind === 'symbol' ? e.text : '')) : []; }
          else body.device = [c.expectName().text];
        }
        if (c.acceptWord('devices')) { c.expectPunct('='); const s = this.s.e.setOrRef(); body.device = s.kind === 'set' ? s.elems.map((e) => (e.kind === 'symbol' ? e.text : '')) : []; }
        c.expectWord('priority');
        body.priority = this.priority();
      } else if (c.isWord('policy') && c.peek(1).kind === 'word' && (c.peek(2).kind === 'newline' || c.isPunct(';', 2) || c.isPunct('}', 2))) {
        c.next();
        body.policy = c.next().text;
      } else if (c.isWord('comment') && c.peek(1).kind === 'string' && (c.peek(2).kind === 'newline' || c.isPunct(';', 2) || c.isPunct('}', 2))) {
        c.next();
        body.comment = c.next().text;
      } else {
        body.rules.push(this.s.rule());
      }
      this.endItem();
    }
    c.expectPunct('}');
    return body;
  }

  private priority(): Expr {
    const c = this.c;
    const t = c.peek();
    if (c.acceptPunct('-')) { const n = c.next(); return { kind: 'symbol', text: '-' + n.text, quoted: false, loc: c.span(t.loc, n.loc) }; }
    const e = c.next();
    let text = e.text;
    if ((c.isPunct('+') || c.isPunct('-')) && c.peek(1).kind === 'number') text += c.next().text + c.next().text;
    return { kind: 'symbol', text, quoted: e.kind === 'string', loc: c.span(t.loc, c.prevLoc()) };
  }

  setBlock(isMap: boolean): SetBody {
    const c = this.c;
    c.expectPunct('{');
    const body: SetBody = { isMap, flags: [] };
    this.sep();
    const typeList = (): string[] => { const out = [c.expectName().text]; while (c.acceptPunct('.')) out.push(c.expectName().text); return out; };
    while (!c.isPunct('}')) {
      if (c.acceptWord('type')) {
        body.keyType = typeList();
        if (c.acceptPunct(':')) body.dataType = c.isWord('interval') ? (c.next(), ['interval', ...typeList()]) : typeList();
      } else if (c.acceptWord('typeof')) {
        body.keyTypeof = this.s.e.concat(false);
        if (c.acceptPunct(':')) {
          if (c.isWord('verdict') || c.isWord('counter') || c.isWord('quota') || c.isWord('limit')) body.dataType = [c.next().text];
          else body.dataTypeof = this.s.e.concat(false);
        }
      } else if (c.acceptWord('flags')) {
        do body.flags.push(c.expectName().text); while (c.acceptPunct(','));
        if (c.peek().kind !== 'newline' && !c.isPunct(';')) throw c.unexpected('newline or semicolon or comma');
      } else if (c.acceptWord('timeout')) body.timeout = parseTime(c.next().text);
      else if (c.acceptWord('gc-interval')) body.gcInterval = parseTime(c.next().text);
      else if (c.acceptWord('size')) body.size = c.expectNumber();
      else if (c.acceptWord('policy')) body.policy = c.expectName().text;
      else if (c.acceptWord('auto-merge')) { body.autoMerge = true; this.sep(); continue; }
      else if (c.acceptWord('comment')) body.comment = c.expectName().text;
      else if (c.acceptWord('elements')) {
        c.expectPunct('=');
        const s = this.s.e.setOrRef();
        body.elements = s.kind === 'set' ? s.elems : [s];
        this.sep();
        continue;
      } else if (c.isWord('counter') || c.isWord('quota') || c.isWord('limit')) {
        (body.stmts ??= []).push(this.s.stmt());
      } else throw c.unexpected();
      this.endItem();
    }
    c.expectPunct('}');
    return body;
  }
}
