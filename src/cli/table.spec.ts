import { formatTable } from './table';

describe(formatTable.name, () => {
  it('aligns columns and neutralizes control characters', () => {
    const out = formatTable([{ a: 'x', b: 1 }, { a: 'long\u001b[31mvalue', b: null }], ['a', 'b']);
    // "long\u001b[31mvalue" becomes "long [31mvalue" (14 characters): the escape cannot reach the terminal.
    expect(out.split('\n')).toEqual(['a               b', '--------------  -', 'x               1', 'long [31mvalue']);
  });

  it('says when there is nothing', () => {
    expect(formatTable([], [])).toBe('(none)');
  });
});
