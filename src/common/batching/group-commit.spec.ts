import { GroupCommit } from './group-commit';

describe(GroupCommit.name, () => {
  it('writes items submitted during a flush together in the next one, in order', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const firstFlushGate = new Promise<void>((r) => (release = r));
    const sut = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await firstFlushGate;
      return items.map((i) => i * 10);
    }, 100, 1);

    const first = sut.submit(1);
    const rest = [2, 3, 4].map((i) => sut.submit(i));
    expect(sut.pending).toBe(3);
    release();

    await expect(first).resolves.toBe(10);
    await expect(Promise.all(rest)).resolves.toEqual([20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('rejects every item of a failed batch and keeps serving later ones', async () => {
    let fail = true;
    const sut = new GroupCommit<string, string>(async (items) => {
      if (fail) throw new Error('database down');
      return items;
    });
    await expect(sut.submit('a')).rejects.toThrow('database down');
    fail = false;
    await expect(sut.submit('b')).resolves.toBe('b');
  });

  it('fails the queued items at once when the error says the next batch would fail too', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let flushes = 0;
    const sut = new GroupCommit<number, number>(async () => {
      flushes++;
      await gate;
      throw new Error('database unavailable');
    }, 100, 1, (e) => (e as Error).message === 'database unavailable');
    const first = sut.submit(1);
    const queued = [sut.submit(2), sut.submit(3)];
    release();
    await expect(first).rejects.toThrow('database unavailable');
    await expect(Promise.all(queued)).rejects.toThrow('database unavailable');
    expect(flushes).toBe(1);
  });

  it('fails only the items the flush reports as errors', async () => {
    const sut = new GroupCommit<number, number>(async (items) => items.map((i) => (i === 2 ? new Error('bad row') : i)));
    const results = await Promise.allSettled([1, 2, 3].map((i) => sut.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('splits the queue into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const sut = new GroupCommit<number, number>(async (items) => {
      sizes.push(items.length);
      await new Promise((r) => setImmediate(r));
      return items;
    }, 3, 1);
    await Promise.all(Array.from({ length: 8 }, (_, i) => sut.submit(i)));
    expect(sizes.every((s) => s <= 3)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('sends the next batch before the callers of the finished one resume, so the database works while they answer', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sut = new GroupCommit<number, number>(async (items) => {
      events.push(`flush ${items.join(',')}`);
      if (items[0] === 1) await gate;
      return items;
    }, 100, 1);

    const first = sut.submit(1).then((v) => events.push(`caller ${v}`));
    const second = sut.submit(2).then((v) => events.push(`caller ${v}`));
    release();
    await Promise.all([first, second]);

    expect(events).toEqual(['flush 1', 'flush 2', 'caller 1', 'caller 2']);
  });
});
