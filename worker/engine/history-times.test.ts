import { describe, expect, it } from 'vitest';
import { stampHistory } from './history-times.js';

const T1 = Date.UTC(2025, 0, 1);
const T2 = Date.UTC(2025, 0, 2);

describe('stampHistory', () => {
  it('gives new layers their snapshot times and config entries the time before them', () => {
    const { history, created } = stampHistory(
      [
        { created: '2020-01-01T00:00:00Z', created_by: 'base' },
        { created_by: 'ENV A=1', empty_layer: true },
        { created_by: 'RUN x' },
        { created_by: 'CMD y', empty_layer: true },
      ],
      [T1 - 1000, T2],
      undefined,
    );
    expect(history.map((entry) => entry.created)).toEqual([
      '2020-01-01T00:00:00Z',
      '2020-01-01T00:00:00Z',
      new Date(T2).toISOString(),
      new Date(T2).toISOString(),
    ]);
    expect(created).toBe(new Date(T2).toISOString());
  });

  it('takes the first layer time for config entries before any layer', () => {
    const { history } = stampHistory(
      [{ created_by: 'LABEL a=b', empty_layer: true }, { created_by: 'COPY . /' }],
      [T1],
      undefined,
    );
    expect(history.map((entry) => entry.created)).toEqual([
      new Date(T1).toISOString(),
      new Date(T1).toISOString(),
    ]);
  });

  it('adds an entry for each layer no history entry describes', () => {
    const { history, created } = stampHistory([], [T1, T2], undefined);
    expect(history).toHaveLength(2);
    expect(created).toBe(new Date(T2).toISOString());
  });

  it('uses the Unix epoch when there is no layer at all', () => {
    const { history, created } = stampHistory(
      [{ created_by: 'LABEL a=b', empty_layer: true }],
      [],
      undefined,
    );
    expect(history[0]?.created).toBe('1970-01-01T00:00:00.000Z');
    expect(created).toBe('1970-01-01T00:00:00.000Z');
  });

  it('uses SOURCE_DATE_EPOCH for every time when given', () => {
    const { history, created } = stampHistory(
      [{ created: '2020-01-01T00:00:00Z', created_by: 'base' }, { created_by: 'RUN x' }],
      [T1, T2],
      100,
    );
    expect(created).toBe('1970-01-01T00:01:40.000Z');
    expect(history.every((entry) => entry.created === created)).toBe(true);
  });
});
