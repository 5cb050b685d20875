/**
 * Background work on an interval (the audit sealer, the nonce and audit
 * purges): one run at a time (a call while one runs shares it), and a stop
 * that prevents new runs and waits for the one in progress, which reads
 * `stopping` between its batches to leave the rest to the next instance.
 * Called before the database closes (beforeApplicationShutdown).
 */
export class PeriodicJob<T> {
  private timer?: NodeJS.Timeout;
  private running?: Promise<T>;
  stopping = false;

  constructor(
    private readonly work: () => Promise<T>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Runs every `intervalMs`, without keeping the process alive. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.run().catch(this.onError), intervalMs);
    this.timer.unref();
  }

  /** The run in progress, or a new one. */
  run(): Promise<T> {
    this.running ??= this.work().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
