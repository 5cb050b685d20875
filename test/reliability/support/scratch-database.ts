import { randomBytes } from 'node:crypto';
import { Client, QueryResultRow } from 'pg';

/**
 * The shared PostgreSQL server: DATABASE_URL's server when it is set (as
 * `.ci/run` does), otherwise the machine's 127.0.0.1:5432 as `postgres`.
 */
function serverUrl(database: string): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  url.pathname = `/${database}`;
  return url.href;
}

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** An empty database of its own on the shared server, dropped by `drop()`. */
export class ScratchDatabase {
  private constructor(readonly name: string) {}

  static async create(prefix: string): Promise<ScratchDatabase> {
    const name = `${prefix}_${Date.now()}_${process.pid}_${randomBytes(3).toString('hex')}`;
    await withClient(serverUrl('postgres'), (client) => client.query(`CREATE DATABASE "${name}"`));
    return new ScratchDatabase(name);
  }

  get url(): string {
    return serverUrl(this.name);
  }

  /** A session of its own (to hold a lock), for the caller to end. */
  async connect(): Promise<Client> {
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
    await client.connect();
    return client;
  }

  query<T extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    return withClient(this.url, async (client) => (await client.query<T>(sql, params)).rows);
  }

  /** FORCE: a killed service may leave sessions behind for a moment. */
  async drop(): Promise<void> {
    await withClient(serverUrl('postgres'), (client) => client.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`));
  }
}
