/**
 * One circuit breaker per provider endpoint (SPEC §5 health), kept for the life of the process. The
 * failover loop and the ranking see them through Breakers, so a test can set their state directly.
 */
import { CircuitBreaker, type CircuitState } from '../routing.js';

export interface Breakers {
  /** The endpoint's state now; an endpoint never seen is closed. */
  state(endpointId: string, nowMs: number): CircuitState;
  /** Whether a request may go to the endpoint now (half-open lets exactly one trial through). */
  tryAcquire(endpointId: string, nowMs: number): boolean;
  success(endpointId: string): void;
  failure(endpointId: string, nowMs: number): void;
}

export class BreakerBoard implements Breakers {
  private readonly byEndpoint = new Map<string, CircuitBreaker>();

  private breaker(endpointId: string): CircuitBreaker {
    let b = this.byEndpoint.get(endpointId);
    if (!b) {
      b = new CircuitBreaker();
      this.byEndpoint.set(endpointId, b);
    }
    return b;
  }

  state(endpointId: string, nowMs: number): CircuitState {
    return this.byEndpoint.get(endpointId)?.state(nowMs) ?? 'closed';
  }

  tryAcquire(endpointId: string, nowMs: number): boolean {
    return this.breaker(endpointId).tryAcquire(nowMs);
  }

  success(endpointId: string): void {
    this.breaker(endpointId).success();
  }

  failure(endpointId: string, nowMs: number): void {
    this.breaker(endpointId).failure(nowMs);
  }
}
