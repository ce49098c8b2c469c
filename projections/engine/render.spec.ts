import { valuesList } from '../projection.js';
import { render } from './render.js';

describe('render', () => {
  it('inlines every placeholder as an escaped literal, $10 and up included', () => {
    const values = ["o'brien", 2, 3n, true, null, new Date('2030-01-01T00:00:00.000Z'), { a: "'" }, 8, 9, 'ten'];
    expect(render({ text: `VALUES ${valuesList(1, 10)}`, values })).toBe(
      `VALUES ('o''brien', 2, 3, TRUE, NULL, '2030-01-01T00:00:00.000Z', '{"a":"''"}', 8, 9, 'ten')`,
    );
  });

  it('leaves a dollar sign not followed by digits alone, and a text without placeholders as it is', () => {
    expect(render({ text: "SELECT '$', $1, 'x$'", values: ['$2'] })).toBe("SELECT '$', '$2', 'x$'");
    expect(render({ text: 'SELECT 1', values: [] })).toBe('SELECT 1');
  });

  it('refuses a placeholder with no value', () => {
    expect(() => render({ text: 'SELECT $2', values: [1] })).toThrow('no value for $2');
    expect(() => render({ text: 'SELECT $0', values: [1] })).toThrow('no value for $0');
  });

  it('numbers multi-row placeholders from `first`', () => {
    expect(valuesList(2, 3, 4)).toBe('($4, $5, $6), ($7, $8, $9)');
  });
});
