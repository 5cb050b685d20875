import { Module } from '@nestjs/common';
import { DatabaseEndpoint } from './database-endpoint';

@Module({ providers: [DatabaseEndpoint], exports: [DatabaseEndpoint] })
export class DatabaseEndpointModule {}
