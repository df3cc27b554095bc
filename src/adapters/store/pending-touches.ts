/**
 * "Last accessed" times kept in memory until the next flush (write-behind), shared
 * by the stores whose backend is a network round trip away. Reads overlay them, so
 * the store that took a touch sees it at once; a failed write keeps them for the
 * next flush (newer times win); flushes never run two at a time.
 */
export class PendingTouches {
  private readonly byId = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `write` stores a batch of (id, at) pairs, never moving a time backwards and never creating a session. */
  constructor(private readonly write: (batch: [string, number][]) => Promise<void>) {}

  /** Flushes every `ms` by itself (0 = only when asked); a failed flush is retried at the next tick. */
  every(ms: number): this {
    if (ms > 0) {
      this.timer = setInterval(() => {
        this.flush().catch(() => {
          /* kept pending; reads see them meanwhile */
        });
      }, ms);
      this.timer.unref();
    }
    return this;
  }

  /** Stops the timer; what is pending stays until flush(). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  add(id: string, at: number): void {
    const prev = this.byId.get(id);
    if (prev === undefined || at > prev) this.byId.set(id, at);
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  /** The later of the stored time and a pending touch of the session. */
  overlay(id: string, stored: number): number {
    const pending = this.byId.get(id);
    return pending !== undefined && pending > stored ? pending : stored;
  }

  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.byId.size === 0) return;
    const batch = [...this.byId];
    this.byId.clear();
    this.flushing = this.write(batch).catch((e: unknown) => {
      for (const [id, at] of batch) this.add(id, at);
      throw e;
    });
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }
}
