import { Global, Module } from '@nestjs/common';
import { DatabaseEndpoint } from './database-endpoint';

@Global()
@Module({ providers: [DatabaseEndpoint], exports: [DatabaseEndpoint] })
export class DatabaseEndpointModule {}
