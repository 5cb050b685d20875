import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { purgeMac } from './audit-chain';
import { AuditIntegrityService } from './audit-integrity.service';
import type { AuditSealRepository, RowHash, SealRow } from './audit-seal.repository';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef-unit');

/**
 * The audit tables in memory, behind the repository's interface: events
 * (id -> content) that settle `settlePerSeal` at a time while the sealer
 * works (steady load), seals, and the details of `purge` events.
 */
class Tables {
  readonly events = new Map<number, string>();
  readonly seals: SealRow[] = [];
  readonly purges: Array<Record<string, unknown>> = [];
  private nextSealId = 1;

  constructor(
    settled: number,
    private readonly settlePerSeal = 0,
  ) {
    this.settle(settled);
  }

  /** Events 1..n exist and are past the grace period. */
  settle(n: number): void {
    for (let id = this.events.size + 1; id <= n; id++) this.events.set(id, 'original');
  }

  get settled(): number {
    return Math.max(0, ...this.events.keys());
  }

  seal(id: string): SealRow {
    return this.seals.find((s) => s.id === id)!;
  }

  /** What a database writer does: the seal row and its events go. */
  deleteSeal(id: string, withEvents = false): SealRow {
    const seal = this.seal(id);
    this.seals.splice(this.seals.indexOf(seal), 1);
    if (withEvents) for (let e = Number(seal.firstId); e <= Number(seal.lastId); e++) this.events.delete(e);
    return seal;
  }

  /** What AuditRetentionService does: the head's batches go, and the purge records the hash they end with. */
  purgeHead(seals: number, key: Buffer | undefined): void {
    const purged = this.seals.slice(0, seals).map((s) => this.deleteSeal(s.id, true));
    const through = purged[purged.length - 1];
    this.purges.push({ through_id: through.lastId, through_hash: through.hash.toString('hex'), mac: purgeMac(key, through.lastId, through.hash).toString('hex') });
  }

  repository(): AuditSealRepository {
    const rowHashes = async (firstId: string, lastId: string): Promise<RowHash[]> =>
      [...this.events.entries()]
        .filter(([id]) => id >= Number(firstId) && id <= Number(lastId))
        .sort(([a], [b]) => a - b)
        .map(([id, content]) => ({ id: String(id), hash: createHash('sha256').update(`${id}:${content}`).digest().subarray(0, 8) }));
    return {
      tryLock: async () => true,
      last: async () => this.seals[this.seals.length - 1],
      first: async () => this.seals[0],
      byId: async (id: string) => this.seals.find((s) => s.id === id),
      purgeRecords: async (throughId: string) => this.purges.filter((p) => p.through_id === throughId),
      sealableUpTo: async (_m: EntityManager, afterId: string, _grace: number, max: number) => {
        const upTo = Math.min(this.settled, Number(afterId) + max);
        return upTo > Number(afterId) ? String(upTo) : undefined;
      },
      rowHashes,
      insert: async (_m: EntityManager, seal: Omit<SealRow, 'id'>) => {
        const id = String(this.nextSealId++);
        this.seals.push({ id, ...seal });
        this.settle(this.settled + this.settlePerSeal);
        return id;
      },
      page: async (afterId: string, limit: number) => this.seals.filter((s) => Number(s.id) > Number(afterId)).slice(0, limit),
      eventBounds: async (lastSealedId: string) => ({
        minId: this.events.size ? String(Math.min(...this.events.keys())) : null,
        unsealed: [...this.events.keys()].filter((id) => id > Number(lastSealedId)).length,
      }),
    } as unknown as AuditSealRepository;
  }

  /** One service instance (one process) over these tables. */
  instance(key?: Buffer): AuditIntegrityService {
    const dataSource = { transaction: (work: (m: EntityManager) => Promise<unknown>) => work({} as EntityManager) } as unknown as DataSource;
    const config = { audit: { sealGraceSeconds: 30, sealIntervalSeconds: 10, sealKey: key }, isProduction: false } as unknown as AppConfig;
    return new AuditIntegrityService(dataSource, this.repository(), config);
  }
}

function sealerOver(settled: number, settlePerSeal = 0): { sut: AuditIntegrityService; seals: SealRow[] } {
  const tables = new Tables(settled, settlePerSeal);
  return { sut: tables.instance(), seals: tables.seals };
}

describe(AuditIntegrityService.name, () => {
  let errors: jest.SpyInstance;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  it('seals a backlog in full batches of 1,000 and the rest, in one run', async () => {
    const { sut, seals } = sealerOver(2_500);

    await expect(sut.sealPending()).resolves.toBe(2_500);
    expect(seals.map((s) => [s.firstId, s.lastId, s.eventCount])).toEqual([
      ['1', '1000', 1000],
      ['1001', '2000', 1000],
      ['2001', '2500', 500],
    ]);
  });

  it('under steady load stops after the first batch that is not full, leaving what settles meanwhile to the next tick', async () => {
    // 100 more events settle while each seal is written: "until nothing is left" would never end.
    const { sut, seals } = sealerOver(1_200, 100);

    await expect(sut.sealPending()).resolves.toBe(1_300);
    expect(seals.map((s) => s.eventCount)).toEqual([1000, 300]);
    await expect(sut.sealPending()).resolves.toBe(100);
  });

  it('at shutdown finishes the batch in progress and leaves the backlog to the next instance', async () => {
    const { sut, seals } = sealerOver(5_000);
    const running = sut.sealPending();
    await sut.beforeApplicationShutdown();

    await expect(running).resolves.toBe(1_000);
    expect(seals.map((s) => [s.firstId, s.lastId])).toEqual([['1', '1000']]);
  });

  it('chains each seal to the previous one', async () => {
    const { sut, seals } = sealerOver(1_500);

    await sut.sealPending();
    expect(seals[1].prevHash.equals(seals[0].hash)).toBe(true);
  });

  describe('the head of the chain', () => {
    it('verifies a chain that starts from the genesis hash', async () => {
      const tables = new Tables(2_500);
      const sut = tables.instance(KEY);
      await sut.sealPending();

      await expect(sut.verify()).resolves.toEqual({ ok: true, checked: 2_500, unsealed: 0 });
    });

    it('reports the oldest events deleted with their seal when no retention purge records it', async () => {
      const tables = new Tables(2_500);
      const sut = tables.instance(KEY);
      await sut.sealPending();
      tables.deleteSeal('1', true);

      await expect(sut.verify()).resolves.toEqual({ ok: false, checked: 0, first_broken_id: '1001', reason: 'head deleted' });
    });

    it('accepts a head removed by a retention purge that recorded the hash the next seal chains from', async () => {
      const tables = new Tables(2_500);
      const sut = tables.instance(KEY);
      await sut.sealPending();
      tables.purgeHead(2, KEY);

      await expect(sut.verify()).resolves.toEqual({ ok: true, checked: 500, unsealed: 0 });
    });

    it('does not accept a purge record whose MAC was not made with the key, or was made for another head', async () => {
      const tables = new Tables(2_500);
      const sut = tables.instance(KEY);
      await sut.sealPending();
      const [first, second] = [tables.deleteSeal('1', true), tables.deleteSeal('2', true)];
      // A database writer copies the hash the remaining seal chains from, but cannot MAC it.
      tables.purges.push({ through_id: second.lastId, through_hash: second.hash.toString('hex'), mac: purgeMac(undefined, second.lastId, second.hash).toString('hex') });
      tables.purges.push({ through_id: second.lastId, through_hash: second.hash.toString('hex'), mac: purgeMac(KEY, first.lastId, first.hash).toString('hex') });

      await expect(sut.verify()).resolves.toEqual({ ok: false, checked: 0, first_broken_id: '2001', reason: 'head deleted' });
    });
  });

  describe('the tail of the chain (AUDIT_SEAL_KEY set)', () => {
    /** Two seals (1..1000, 1001..1500) by one instance; then seal 2 is deleted and event 1200 edited. */
    async function truncatedTail(): Promise<{ tables: Tables; sut: AuditIntegrityService; deleted: SealRow }> {
      const tables = new Tables(1_500);
      const sut = tables.instance(KEY);
      await sut.sealPending();
      const deleted = tables.deleteSeal('2');
      tables.events.set(1200, 'edited');
      tables.settle(1_600);
      return { tables, sut, deleted };
    }

    it('refuses to seal again events whose seal was deleted, logs the ids, and verify reports the truncation', async () => {
      const { tables, sut, deleted } = await truncatedTail();

      await expect(sut.sealPending()).resolves.toBe(0);
      expect(tables.seals.map((s) => s.id)).toEqual(['1']);
      expect(errors).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(`tail was truncated: the newest seal is seal 1 \\(events 1\\.\\.1000\\), but this instance made or verified seal 2 \\(events 1001\\.\\.1500, hash ${deleted.hash.toString('hex')}\\)`),
        ),
      );
      await expect(sut.verify()).resolves.toEqual({ ok: false, checked: 1000, first_broken_id: '1001', reason: 'tail truncated' });
    });

    it('verify detects the truncation itself, before the sealer runs, and stops sealing', async () => {
      const { tables, sut } = await truncatedTail();

      await expect(sut.verify()).resolves.toEqual({ ok: false, checked: 1000, first_broken_id: '1001', reason: 'tail truncated' });
      await expect(sut.sealPending()).resolves.toBe(0);
      expect(tables.seals).toHaveLength(1);
    });

    it('keeps refusing once the tail is put back, until restarted', async () => {
      const { tables, sut, deleted } = await truncatedTail();
      await sut.sealPending();
      tables.seals.push(deleted);
      tables.events.set(1200, 'original');

      await expect(sut.sealPending()).resolves.toBe(0);
      await expect(sut.verify()).resolves.toMatchObject({ ok: false, reason: 'tail truncated' });
      expect(errors).toHaveBeenLastCalledWith(expect.stringMatching(/^Refusing to seal audit events: the audit chain's tail was truncated/));
      // The operator restarts after investigating.
      const restarted = tables.instance(KEY);
      await expect(restarted.sealPending()).resolves.toBe(100);
      await expect(restarted.verify()).resolves.toEqual({ ok: true, checked: 1_600, unsealed: 0 });
    });

    it('refuses when the newest seal it made is gone though newer seals exist (made after the truncation)', async () => {
      const { tables, sut } = await truncatedTail();
      // An instance that never saw seal 2 (just started) seals the edited events.
      await tables.instance(KEY).sealPending();
      expect(tables.seals.map((s) => [s.id, s.firstId, s.lastId])).toEqual([
        ['1', '1', '1000'],
        ['3', '1001', '1600'],
      ]);

      await expect(sut.sealPending()).resolves.toBe(0);
      expect(errors).toHaveBeenCalledWith(expect.stringMatching(/tail was altered: seal 2 \(events 1001\.\.1500, hash [0-9a-f]{64}\), which this instance made or verified, is gone \(newest seal now 3, events \.\.1600\)/));
      await expect(sut.verify()).resolves.toEqual({ ok: false, checked: 1_600, first_broken_id: '1001', reason: 'tail altered' });
    });

    it('refuses when the newest seal it made was rewritten in place', async () => {
      const tables = new Tables(1_500);
      const sut = tables.instance(KEY);
      await sut.sealPending();
      const index = tables.seals.findIndex((s) => s.id === '2');
      tables.seals[index] = { ...tables.seals[index], hash: Buffer.alloc(32, 7) };
      tables.settle(1_600);

      await expect(sut.sealPending()).resolves.toBe(0);
      expect(errors).toHaveBeenCalledWith(expect.stringMatching(/tail was altered: seal 2 .* has changed/));
      await expect(sut.verify()).resolves.toMatchObject({ ok: false, first_broken_id: '1001' });
    });
  });

  describe('several instances sealing in turn', () => {
    it('learn the seals the others make and never refuse', async () => {
      const tables = new Tables(100);
      const [a, b] = [tables.instance(KEY), tables.instance(KEY)];
      for (let turn = 0; turn < 6; turn++) {
        tables.settle(tables.settled + 100);
        await expect((turn % 2 === 0 ? a : b).sealPending()).resolves.toBeGreaterThan(0);
      }

      expect(tables.seals).toHaveLength(6);
      expect(errors).not.toHaveBeenCalled();
      await expect(a.verify()).resolves.toEqual({ ok: true, checked: 700, unsealed: 0 });
      await expect(b.verify()).resolves.toEqual({ ok: true, checked: 700, unsealed: 0 });
    });

    it('an instance checks the newest seal it read under the lock, though another instance made it', async () => {
      const tables = new Tables(100);
      const [a, b] = [tables.instance(KEY), tables.instance(KEY)];
      await a.sealPending();
      tables.settle(200);
      await b.sealPending();
      // Nothing to seal, but a reads (and remembers) b's seal.
      await expect(a.sealPending()).resolves.toBe(0);
      tables.deleteSeal('2');
      tables.settle(300);

      await expect(a.sealPending()).resolves.toBe(0);
      expect(errors).toHaveBeenCalledWith(expect.stringMatching(/tail was truncated: .* seal 2 \(events 101\.\.200/));
    });

    /** a seals events 1..100 (seal 1), b 101..300 (seals 2 and 3): a remembers seal 1. */
    async function olderAnchor(): Promise<{ tables: Tables; a: AuditIntegrityService }> {
      const tables = new Tables(100);
      const [a, b] = [tables.instance(KEY), tables.instance(KEY)];
      await a.sealPending();
      for (const n of [200, 300]) {
        tables.settle(n);
        await b.sealPending();
      }
      tables.settle(400);
      return { tables, a };
    }

    it('a retention purge of the seal an instance remembers is no truncation', async () => {
      const { tables, a } = await olderAnchor();
      tables.purgeHead(2, KEY);

      await expect(a.sealPending()).resolves.toBe(100);
      await expect(a.verify()).resolves.toEqual({ ok: true, checked: 200, unsealed: 0 });
      expect(errors).not.toHaveBeenCalled();
    });

    it('the same deletion without the purge record stops the instance that remembers the seal', async () => {
      const { tables, a } = await olderAnchor();
      tables.deleteSeal('1', true);
      tables.deleteSeal('2', true);

      await expect(a.sealPending()).resolves.toBe(0);
      expect(errors).toHaveBeenCalledWith(expect.stringMatching(/tail was altered: seal 1 \(events 1\.\.100, .* is gone/));
      await expect(a.verify()).resolves.toEqual({ ok: false, checked: 0, first_broken_id: '201', reason: 'head deleted' });
    });
  });
});
