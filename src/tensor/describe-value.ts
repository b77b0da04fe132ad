/** Longer strings are cut here in messages: the start says which value it was. */
const SHOWN_STRING_LENGTH = 40;

const article = (noun: string) => (/^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`);

/**
 * What a value is, for the "got ..." of an error message: `3` for the number, `the string '3'`
 * for the string (String() prints both as 3), `NaN`, `-Infinity`, `-0`, `null`, `an array of
 * length 2`, `a Tensor`, `a function`. Never throws, whatever it is given.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string': {
      const shown = value.length > SHOWN_STRING_LENGTH ? `${value.slice(0, SHOWN_STRING_LENGTH)}…` : value;
      return `the string ${JSON.stringify(shown).replace(/^"|"$/g, "'")}`;
    }
    case 'bigint':
      return `the bigint ${value}n`;
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (value === null) return 'null';
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      // An object without a prototype (Object.create(null)) has no constructor to name.
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
      return typeof name === 'string' && name !== '' && name !== 'Object' ? article(name) : 'an object';
  }
}
