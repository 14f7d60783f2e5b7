/**
 * One timer object per downstream connection, re-armed per request with `refresh()` (no new
 * Timeout per request while the duration stays the same). A disarmed timer that still fires is
 * ignored.
 */
export class ReusableTimer {
  private timer: NodeJS.Timeout | undefined;
  private ms = 0;
  private armed = false;
  private readonly fire: () => void;
  private readonly onTimeout = (): void => {
    if (!this.armed) return;
    this.armed = false;
    this.fire();
  };

  constructor(fire: () => void) {
    this.fire = fire;
  }

  arm(ms: number): void {
    this.armed = true;
    if (this.timer && this.ms === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimeout, ms);
    this.timer.unref();
    this.ms = ms;
  }

  disarm(): void {
    this.armed = false;
  }

  dispose(): void {
    this.armed = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
