/**
 * Per-socket state that must not keep its socket alive: an unreachable socket is collected (and
 * its descriptor closed) as before, and its entry goes with it. A WeakMap holds the state, WeakRefs
 * let the entries be listed, and a FinalizationRegistry drops the refs of collected sockets.
 */
export class WeakRegistry<K extends object, V> {
  readonly #values = new WeakMap<K, V>();
  readonly #refs = new WeakMap<K, WeakRef<K>>();
  readonly #live = new Set<WeakRef<K>>();
  readonly #finalizer: FinalizationRegistry<WeakRef<K>>;

  /** `onCollected` runs after the entry of a collected key was dropped. */
  constructor(onCollected?: () => void) {
    this.#finalizer = new FinalizationRegistry((ref) => {
      this.#live.delete(ref);
      onCollected?.();
    });
  }

  /** How many keys have an entry (collected ones may linger until their finalizer runs). */
  get size(): number {
    return this.#live.size;
  }

  /** The key's value. */
  get(key: K): V | undefined {
    return this.#values.get(key);
  }

  /** Sets the key's value. */
  set(key: K, value: V): void {
    if (!this.#refs.has(key)) {
      const ref = new WeakRef(key);
      this.#refs.set(key, ref);
      this.#live.add(ref);
      this.#finalizer.register(key, ref, ref);
    }
    this.#values.set(key, value);
  }

  /** Drops the key's entry. */
  delete(key: K): void {
    const ref = this.#refs.get(key);
    if (ref !== undefined) {
      this.#live.delete(ref);
      this.#finalizer.unregister(ref);
    }
    this.#refs.delete(key);
    this.#values.delete(key);
  }

  /** The live entries, as [key, value], in insertion order (a snapshot: safe to change meanwhile). */
  entries(): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    for (const ref of [...this.#live]) {
      const key = ref.deref();
      const value = key === undefined ? undefined : this.#values.get(key);
      if (key !== undefined && value !== undefined) out.push([key, value]);
    }
    return out;
  }
}
