import { Initial1795800000000 } from './1795800000000-initial';

/** Every migration, in order. Listed explicitly so dist/ and ts-node load the same set. */
export const migrations = [Initial1795800000000];
