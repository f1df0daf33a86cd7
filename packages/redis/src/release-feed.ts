/**
 * Waking waiters: release scripts PUBLISH on the lock's channel, and each coordinator
 * listens on ONE subscriber connection per Redis instance (not one per lock), fanning
 * messages out to its local waiters through core's `ReleaseHub`.
 *
 * A channel is subscribed only once a waiter actually has to wait (an uncontended acquire
 * causes no pub/sub traffic at all), and stays subscribed for a short linger after the last
 * waiter leaves, so a lock that is contended again and again does not pay a SUBSCRIBE per wait.
 *
 * Nothing is published when a lease simply runs out (a crashed holder), and a message can
 * be lost while a subscriber reconnects. So every failed attempt records when the
 * holder's lease will end (its PTTL), and a waiter re-checks at that instant at the
 * latest, or at core's fallback re-check if that comes first. No waiter sleeps past the
 * moment the lock could be free.
 *
 * Semaphore waiters are woken by name: the server knows which waiters are at the head of the
 * queue, so its wake-up lists their ids ({@link WAKE_PREFIX}) and only they are woken, each
 * watching under its own id. Every other message of a channel wakes the longest-waiting
 * local waiter on it, and is handed to the channel's listeners (election observers).
 * @module
 */
import { type LockWatch, ReleaseHub } from '@lockstep/core/driver';
import type { Redis } from 'ioredis';
import { WAKE_PREFIX } from './queue-scripts.js';

/** What a watch needs to know of a lock or semaphore. */
export interface WatchedKeys {
  /** The channel its releases are announced on. */
  readonly channel: string;
  /** A native key whose keyspace events are heard too. */
  readonly nativeKey?: string;
}

/** Hears one channel's messages (an election observer). */
export interface ChannelListener {
  onMessage(message: string): void;
  /** Messages may have been missed: read the state again. */
  onGap(): void;
}

/** How long a channel stays subscribed after its last local waiter left. */
export const SUBSCRIPTION_LINGER_MS = 5_000;

/** The subscriber side of one coordinator. */
export class ReleaseFeed {
  readonly #subscribers: readonly Redis[];
  /** Waiters by channel (locks, native semaphores). */
  readonly #hub = new ReleaseHub();
  /** Semaphore waiters by their own id. */
  readonly #named = new ReleaseHub();
  /** channel → ids of the named waiters on it. */
  readonly #namedOn = new Map<string, Set<string>>();
  /** channel → `performance.now()` instant when the holder's lease ends, from the last failed attempt. */
  readonly #freeAt = new Map<string, number>();
  /** Subscribed (or subscribing) channels, with the timer that will drop an idle one. */
  readonly #channels = new Map<string, NodeJS.Timeout | undefined>();
  /** Keyspace-event channel of a native key → the lock's own channel. */
  readonly #aliases = new Map<string, string>();
  /** Open watches and listeners per channel: someone in this coordinator is waiting for that lock. */
  readonly #watching = new Map<string, number>();
  /** channel → the SUBSCRIBE of it, settled once the server confirmed it (or refused). */
  readonly #confirmed = new Map<string, Promise<void>>();
  /** channel → its listeners: every message, and a call when messages may have been missed. */
  readonly #listeners = new Map<string, Set<ChannelListener>>();
  #closed = false;

  readonly #onWaitEnded: ((channel: string) => void) | undefined;

  /**
   * `subscribers`: dedicated connections (subscriber mode), one per Redis instance.
   * `onWaitEnded`: called when the last local waiter on a channel stops waiting.
   */
  constructor(subscribers: readonly Redis[], onWaitEnded?: (channel: string) => void) {
    this.#subscribers = subscribers;
    this.#onWaitEnded = onWaitEnded;
    for (const subscriber of subscribers) {
      subscriber.on('message', (channel: string, message: string) =>
        this.#deliver(this.#aliases.get(channel) ?? channel, message),
      );
      let connectedBefore = false;
      subscriber.on('ready', () => {
        // A reconnect: ioredis resubscribes what the server had confirmed, not a SUBSCRIBE that
        // was in flight when the connection dropped; subscribing again to every channel we
        // listen on covers both (a repeated SUBSCRIBE is harmless).
        if (connectedBefore) this.#resubscribe(subscriber);
        connectedBefore = true;
        // Messages published while we were disconnected are gone: have every waiter re-check.
        this.#hub.notifyAll();
        this.#named.notifyAll();
        for (const listeners of this.#listeners.values()) for (const l of listeners) l.onGap();
      });
      subscriber.on('error', () => {});
    }
  }

  /** A watch on a lock's releases; open it before the first attempt (core does). */
  watch(keys: WatchedKeys): LockWatch {
    return this.#open(keys, this.#hub.watch(keys.channel), () => {});
  }

  /**
   * A watch of one semaphore waiter, woken by the wake-ups that name `waiter` (and by a
   * reconnect or a new subscription, which may have missed one). Open it before the first attempt.
   */
  watchNamed(keys: WatchedKeys, waiter: string): LockWatch {
    const { channel } = keys;
    const named = this.#namedOn.get(channel) ?? new Set<string>();
    this.#namedOn.set(channel, named);
    named.add(waiter);
    return this.#open(keys, this.#named.watch(waiter), () => {
      named.delete(waiter);
      if (named.size === 0 && this.#namedOn.get(channel) === named) this.#namedOn.delete(channel);
    });
  }

  /**
   * Hands every message of `channel` but wake-ups to `listener.onMessage`, and calls
   * `listener.onGap` whenever some may have been missed (the subscription confirmed, a
   * reconnect). `subscribed` settles once the server confirmed the subscription.
   */
  listen(channel: string, listener: ChannelListener): { readonly subscribed: Promise<void>; close(): void } {
    const listeners = this.#listeners.get(channel) ?? new Set<ChannelListener>();
    this.#listeners.set(channel, listeners);
    listeners.add(listener);
    this.#counted(channel);
    const subscribed = this.#subscribe(channel, undefined);
    let open = true;
    return {
      subscribed,
      close: () => {
        if (!open) return;
        open = false;
        listeners.delete(listener);
        if (listeners.size === 0 && this.#listeners.get(channel) === listeners)
          this.#listeners.delete(channel);
        this.#uncounted(channel);
      },
    };
  }

  #counted(channel: string): void {
    this.#watching.set(channel, (this.#watching.get(channel) ?? 0) + 1);
  }

  #uncounted(channel: string): void {
    const left = (this.#watching.get(channel) ?? 1) - 1;
    if (left > 0) this.#watching.set(channel, left);
    else {
      this.#watching.delete(channel);
      this.#idle(channel);
    }
  }

  /** Counts `watch` as waiting on its channel, and subscribes when it first waits. */
  #open(keys: WatchedKeys, watch: LockWatch, onClose: () => void): LockWatch {
    const { channel } = keys;
    this.#counted(channel);
    let open = true;
    return {
      next: (maxMs, signal) => {
        void this.#subscribe(channel, keys.nativeKey);
        return watch.next(this.#boundDelay(channel, maxMs), signal);
      },
      close: (granted) => {
        if (!open) return;
        open = false;
        onClose();
        // A waiter that got the lock used its wake: passing it on would send the next waiter
        // to try a lock that is held again.
        watch.close(granted);
        this.#uncounted(channel);
      },
    };
  }

  /** Whether a waiter of this coordinator is waiting on `channel` (not a lone `tryAcquire`). */
  isWatched(channel: string): boolean {
    return this.#watching.has(channel);
  }

  /**
   * Records, after a failed attempt, in how many ms the holder's lease ends
   * (`undefined` when it has no expiry, e.g. a native key set without PX).
   */
  holderLeaseEndsIn(channel: string, ms: number | undefined): void {
    if (ms === undefined || ms < 0) this.#freeAt.delete(channel);
    else this.#freeAt.set(channel, performance.now() + ms);
  }

  /** Stops listening and disconnects the subscriber connections. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#channels.values()) clearTimeout(timer);
    this.#channels.clear();
    for (const subscriber of this.#subscribers) subscriber.disconnect();
  }

  /** A message on `channel`: a wake-up naming semaphore waiters, or a release. */
  #deliver(channel: string, message: string): void {
    if (!message.startsWith(WAKE_PREFIX)) {
      this.#hub.notify(channel);
      for (const listener of this.#listeners.get(channel) ?? []) listener.onMessage(message);
      return;
    }
    for (const waiter of message.slice(WAKE_PREFIX.length).split(' ')) this.#named.notify(waiter);
  }

  /** Wakes the waiters on `channel`: the longest-waiting one by channel, and every named one. */
  #notifyChannel(channel: string): void {
    this.#hub.notify(channel);
    for (const waiter of this.#namedOn.get(channel) ?? []) this.#named.notify(waiter);
    for (const listener of this.#listeners.get(channel) ?? []) listener.onGap();
  }

  #boundDelay(channel: string, maxMs: number): number {
    const freeAt = this.#freeAt.get(channel);
    if (freeAt === undefined) return maxMs;
    // +1 ms: Redis expires keys with millisecond precision; arrive just after, not before.
    return Math.min(maxMs, Math.max(0, freeAt - performance.now()) + 1);
  }

  /** Subscribes to `channel` unless it is already; settles once the server answered the SUBSCRIBE. */
  #subscribe(channel: string, nativeKey: string | undefined): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#channels.has(channel)) {
      clearTimeout(this.#channels.get(channel)); // lingering: keep it
      this.#channels.set(channel, undefined);
      return this.#confirmed.get(channel) ?? Promise.resolve();
    }
    this.#channels.set(channel, undefined);
    const subscribed = this.#subscribers.map((subscriber) => {
      const channels = [channel];
      if (nativeKey !== undefined) {
        const keyspace = `__keyspace@${subscriber.options.db ?? 0}__:${nativeKey}`;
        this.#aliases.set(keyspace, channel);
        channels.push(keyspace);
      }
      return subscriber.subscribe(...channels);
    });
    // A release published between the failed attempt and the moment the server confirmed
    // this subscription was not seen: wake the waiters for one more attempt. A SUBSCRIBE that
    // failed is forgotten, so the next wait subscribes again instead of relying on re-checks.
    const confirmed = Promise.allSettled(subscribed).then((results) => {
      if (results.some((r) => r.status === 'rejected') && this.#channels.has(channel)) {
        clearTimeout(this.#channels.get(channel));
        this.#channels.delete(channel);
        this.#confirmed.delete(channel);
      }
      this.#notifyChannel(channel);
    });
    this.#confirmed.set(channel, confirmed);
    return confirmed;
  }

  #resubscribe(subscriber: Redis): void {
    if (this.#closed || this.#channels.size === 0) return;
    const channels = [...this.#channels.keys()];
    for (const [alias, target] of this.#aliases) if (this.#channels.has(target)) channels.push(alias);
    subscriber.subscribe(...channels).catch(() => {});
  }

  #idle(channel: string): void {
    this.#freeAt.delete(channel);
    this.#onWaitEnded?.(channel);
    if (this.#closed || !this.#channels.has(channel)) return;
    const timer = setTimeout(() => {
      this.#channels.delete(channel);
      this.#confirmed.delete(channel);
      const aliases = [...this.#aliases].filter(([, target]) => target === channel).map(([alias]) => alias);
      for (const alias of aliases) this.#aliases.delete(alias);
      for (const subscriber of this.#subscribers) subscriber.unsubscribe(channel, ...aliases).catch(() => {});
    }, SUBSCRIPTION_LINGER_MS);
    timer.unref();
    this.#channels.set(channel, timer);
  }
}
