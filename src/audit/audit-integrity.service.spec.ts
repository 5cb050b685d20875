import type { DataSource, EntityManager } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { AuditIntegrityService } from './audit-integrity.service';
import type { AuditSealRepository, RowHash, SealRow } from './audit-seal.repository';

/**
 * An in-memory audit table whose events settle `settlePerSeal` at a time
 * while the sealer works (steady load), behind the repository's interface.
 */
function sealerOver(settled: number, settlePerSeal = 0): { sut: AuditIntegrityService; seals: Array<Omit<SealRow, 'id'>> } {
  const seals: Array<Omit<SealRow, 'id'>> = [];
  let settledUpTo = settled;
  const repository = {
    tryLock: async () => true,
    last: async () => (seals.length ? { id: String(seals.length), ...seals[seals.length - 1] } : undefined),
    sealableUpTo: async (_m: EntityManager, afterId: string, _grace: number, max: number) => {
      const upTo = Math.min(settledUpTo, Number(afterId) + max);
      return upTo > Number(afterId) ? String(upTo) : undefined;
    },
    rowHashes: async (firstId: string, lastId: string): Promise<RowHash[]> =>
      Array.from({ length: Number(lastId) - Number(firstId) + 1 }, (_, i) => ({ id: String(Number(firstId) + i), hash: Buffer.alloc(8, i) })),
    insert: async (_m: EntityManager, seal: Omit<SealRow, 'id'>) => {
      seals.push(seal);
      settledUpTo += settlePerSeal;
    },
  } as unknown as AuditSealRepository;
  const dataSource = { transaction: (work: (m: EntityManager) => Promise<unknown>) => work({} as EntityManager) } as unknown as DataSource;
  const config = { audit: { sealGraceSeconds: 30, sealIntervalSeconds: 10 }, isProduction: false } as unknown as AppConfig;
  return { sut: new AuditIntegrityService(dataSource, repository, config), seals };
}

describe(AuditIntegrityService.name, () => {
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

  it('chains each seal to the previous one', async () => {
    const { sut, seals } = sealerOver(1_500);

    await sut.sealPending();
    expect(seals[1].prevHash.equals(seals[0].hash)).toBe(true);
  });
});
