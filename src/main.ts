import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { AppConfig, loadAppConfig, loadDotEnv } from './config/app-config';
import { ConfigValidationError } from './config/env.validation';
import { createApp } from './bootstrap';

async function main(): Promise<void> {
  loadDotEnv();
  let config: AppConfig;
  try {
    config = loadAppConfig();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      // One line naming the variable, no stack: this is an operator's mistake.
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const app = await createApp(config);
  await app.listen(config.port, '0.0.0.0');
  new Logger('Bootstrap').log(
    `vestauth authority ${config.version} listening on port ${config.port}, public URL ${config.publicUrl.origin}`,
  );
}

main().catch((error: unknown) => {
  new Logger('Bootstrap').fatal(`Failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
