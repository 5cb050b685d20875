interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: callers submit one item each and await its own result;
 * items that arrive while a flush is in flight are written together by the
 * next flush (one statement, one round trip). With no load a batch is a
 * single item written at once, so nothing waits on a timer.
 */
export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private flushing = 0;

  constructor(
    /** Writes a batch; an Error in the result array fails that item alone. */
    private readonly flush: (items: T[]) => Promise<Array<R | Error>>,
    private readonly maxBatch = 256,
    private readonly maxConcurrentFlushes = 2,
    /** Errors that will fail the queued items too (e.g. the database is unreachable): fail them now instead of one timeout each. */
    private readonly failsQueue: (error: unknown) => boolean = () => false,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.drain();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private drain(): void {
    while (this.flushing < this.maxConcurrentFlushes && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.flushing++;
      void this.run(batch);
    }
  }

  /** Writes a batch; the next one starts before this one's callers resume, so the database works while they answer. */
  private async run(batch: Pending<T, R>[]): Promise<void> {
    let results: Array<R | Error>;
    try {
      results = await this.flush(batch.map((p) => p.item));
    } catch (error) {
      this.flushing--;
      for (const p of batch) p.reject(error);
      if (this.failsQueue(error)) {
        for (const p of this.queue.splice(0)) p.reject(error);
      }
      this.drain();
      return;
    }
    this.flushing--;
    this.drain();
    batch.forEach((p, i) => {
      const result = results[i];
      if (result instanceof Error) p.reject(result);
      else p.resolve(result);
    });
  }
}
