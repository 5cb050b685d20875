import { ApiProperty } from '@nestjs/swagger';

/** GET /admin/audit-events/verify when every seal and event hash checks out. */
export class ChainIntactReport {
  @ApiProperty({ enum: [true] })
  ok: true;

  @ApiProperty({ type: 'integer', description: 'Sealed events whose hashes were recomputed.' })
  checked: number;

  @ApiProperty({ type: 'integer', description: 'Recent events not sealed yet (sealing runs in the background).' })
  unsealed: number;
}

/** GET /admin/audit-events/verify when the chain is broken: where, and how. */
export class ChainBrokenReport {
  @ApiProperty({ enum: [false] })
  ok: false;

  @ApiProperty({ type: 'integer', description: 'Sealed events verified before the break.' })
  checked: number;

  @ApiProperty({ description: 'Id of the first event (or seal range) that fails verification.' })
  first_broken_id: string;

  @ApiProperty({
    enum: ['altered', 'deleted', 'inserted', 'seal altered', 'seal chain broken', 'head deleted', 'tail truncated', 'tail altered'],
    description:
      'What is wrong: an event row was altered, deleted or inserted, or a seal itself was; the oldest sealed batches were deleted without a recorded retention purge ' +
      '(head deleted); or the newest seal this instance made or verified was deleted (tail truncated) or changed (tail altered), after which it stops sealing until restarted.',
  })
  reason: string;
}

export type ChainReport = ChainIntactReport | ChainBrokenReport;
