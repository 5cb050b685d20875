// Entry point for the TypeORM CLI only (the app never imports it):
//   npx typeorm-ts-node-commonjs migration:run -d ormconfig.ts
// It needs DATABASE_URL: the embedded database is opened by one process at
// a time, so run the CLI against it only through a running server.
import { DataSource } from 'typeorm';
import { loadAppConfig, loadDotEnv } from './src/config/app-config';
import { buildDataSourceOptions } from './src/database/data-source.options';

loadDotEnv();
const config = loadAppConfig();
if (!config.database.url) {
  throw new Error('ormconfig.ts: set DATABASE_URL (the TypeORM CLI does not open the embedded database)');
}

export default new DataSource(buildDataSourceOptions(config.database, config.database.url));
