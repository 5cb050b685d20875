import { serializeDecimal } from 'structured-headers';

/**
 * RFC 8941 tells an Integer (`1`) from a Decimal (`1.0`); structured-headers
 * parses both to the same JS number, serializes every integral number as an
 * Integer, and exposes neither its parser nor a number type. RFC 9421 needs
 * the difference: `created` and `expires` are Integers (section 2.3), and
 * the @signature-params line must reproduce a Decimal as a Decimal.
 *
 * So, for a Dictionary the library has already parsed (and so validated),
 * this reads which parameters of one member are written as Decimals. It
 * walks only the syntax (strings, byte sequences and inner lists skipped as
 * RFC 8941 section 4.2 delimits them); the values stay the library's. A
 * Decimal contains a ".", so a field without one (every header vestauth and
 * web-bot-auth send) costs one indexOf.
 */
export function decimalParameters(dictionary: string, key: string): ReadonlySet<string> {
  if (dictionary.indexOf('.') === -1) return NONE;
  let found: ReadonlySet<string> = NONE;
  new Scanner(dictionary).members((memberKey, decimals) => {
    // RFC 8941 section 4.2.2: a repeated key overwrites the earlier member.
    if (memberKey === key) found = decimals;
  });
  return found;
}

/**
 * Whether a Dictionary field (already parsed by the library) holds a Decimal
 * with a zero fraction (`1.0`) anywhere: a member's value, an inner list's
 * item or a parameter. The library would serialize it as the Integer `1`,
 * so the strict serialization RFC 9421 section 2.1 signs cannot be rebuilt
 * from its values. Costs one indexOf for a field without ".".
 */
export function hasIntegralDecimal(dictionary: string): boolean {
  if (dictionary.indexOf('.') === -1) return false;
  const scanner = new Scanner(dictionary);
  scanner.members(() => undefined);
  return scanner.integralDecimal;
}

/**
 * RFC 8941 section 4.1.5: a Decimal keeps its fractional part, "0" when it
 * is zero (`1.0`). The library's serializeDecimal gives `1.` for that.
 */
export function serializeDecimalExactly(value: number): string {
  const text = serializeDecimal(value);
  return text.endsWith('.') ? `${text}0` : text;
}

const NONE: ReadonlySet<string> = new Set();

const KEY_CHAR = /[a-z0-9_\-.*]/;
// Where a Token, Integer, Decimal, Boolean or Date ends.
const ITEM_END = new Set([' ', '\t', ',', ';', '(', ')']);

class Scanner {
  pos = 0;
  /** A Decimal with a zero fraction was skipped. */
  integralDecimal = false;

  constructor(private readonly text: string) {}

  /** Walks a Dictionary's members: each key with the keys of its Decimal parameters. */
  members(onMember: (key: string, decimalParameters: Set<string>) => void): void {
    this.skipOws();
    while (!this.atEnd()) {
      const start = this.pos;
      const key = this.key();
      if (this.take('=')) {
        if (this.peek() === '(') this.innerList();
        else this.bareItem();
      }
      onMember(key, this.parameters());
      this.skipOws();
      this.take(',');
      this.skipOws();
      if (this.pos === start) break; // not RFC 8941: the library refused it already
    }
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  take(char: string): boolean {
    if (this.text[this.pos] !== char) return false;
    this.pos++;
    return true;
  }

  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  key(): string {
    const start = this.pos;
    while (!this.atEnd() && KEY_CHAR.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Skips one bare item; true when it was a Decimal. */
  bareItem(): boolean {
    const start = this.pos;
    const first = this.peek();
    if (first === '"') {
      this.pos = this.endOfString(this.pos + 1);
      return false;
    }
    if (first === '%' && this.text[this.pos + 1] === '"') {
      // RFC 9651 Display String: no backslash escapes, "%" and '"' are percent-encoded.
      const end = this.text.indexOf('"', this.pos + 2);
      this.pos = end === -1 ? this.text.length : end + 1;
      return false;
    }
    if (first === ':') {
      const end = this.text.indexOf(':', this.pos + 1);
      this.pos = end === -1 ? this.text.length : end + 1;
      return false;
    }
    let dot = -1;
    while (!this.atEnd() && !ITEM_END.has(this.text[this.pos])) {
      if (this.text[this.pos] === '.') dot = this.pos;
      this.pos++;
    }
    // Only a number starts with a digit or "-"; a Token may contain "." too.
    const decimal = dot !== -1 && (first === '-' || (first !== undefined && first >= '0' && first <= '9')) && this.pos > start;
    if (decimal && /^0+$/.test(this.text.slice(dot + 1, this.pos))) this.integralDecimal = true;
    return decimal;
  }

  /** Parameters in order; the keys whose (last) value is a Decimal. */
  parameters(): Set<string> {
    const decimals = new Set<string>();
    while (this.take(';')) {
      while (this.peek() === ' ') this.pos++;
      const key = this.key();
      const decimal = this.take('=') && this.bareItem();
      // RFC 8941 section 4.2.3.2: a repeated parameter overwrites the earlier one.
      if (decimal) decimals.add(key);
      else decimals.delete(key);
    }
    return decimals;
  }

  innerList(): void {
    this.pos++; // "("
    while (!this.atEnd()) {
      while (this.peek() === ' ') this.pos++;
      if (this.take(')')) return;
      const start = this.pos;
      this.bareItem();
      this.parameters();
      if (this.pos === start) this.pos++;
    }
  }

  // From just after the opening quote of a String: the index after its closing one.
  private endOfString(from: number): number {
    for (let i = from; i < this.text.length; i++) {
      if (this.text[i] === '\\') i++;
      else if (this.text[i] === '"') return i + 1;
    }
    return this.text.length;
  }
}
