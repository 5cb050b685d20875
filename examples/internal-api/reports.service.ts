import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';

export interface Report {
  id: string;
  title: string;
  /** uid of the agent that filed it. */
  author: string;
  created_at: string;
}

// The example keeps reports in memory; the bound stops a chatty agent from
// growing the process without limit.
const MAX_REPORTS = 1000;

/** Stands in for whatever the team's API really serves. */
@Injectable()
export class ReportsService {
  private readonly reports: Report[] = [
    { id: randomUUID(), title: 'Quarterly revenue', author: 'finance', created_at: new Date(0).toISOString() },
    { id: randomUUID(), title: 'Uptime, last 30 days', author: 'sre', created_at: new Date(0).toISOString() },
  ];

  list(): Report[] {
    return [...this.reports];
  }

  create(title: string, author: string): Report {
    const report: Report = { id: randomUUID(), title, author, created_at: new Date().toISOString() };
    this.reports.push(report);
    if (this.reports.length > MAX_REPORTS) this.reports.shift();
    return report;
  }
}
