import { Initial1795800000000 } from './1795800000000-initial';
import { AuditSeals1795800000001 } from './1795800000001-audit-seals';
import { AgentAdminIndex1795800000002 } from './1795800000002-agent-admin-index';
import { AuditOutcomeIndex1795800000003 } from './1795800000003-audit-outcome-index';
import { KeyChangeNotify1795800000004 } from './1795800000004-key-change-notify';

/** Every migration, in order. Listed explicitly so dist/ and ts-node load the same set. */
export const migrations = [Initial1795800000000, AuditSeals1795800000001, AgentAdminIndex1795800000002, AuditOutcomeIndex1795800000003, KeyChangeNotify1795800000004];
