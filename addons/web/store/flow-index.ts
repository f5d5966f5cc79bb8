// How the flow store finds its records: in the order they came, and by id. A hash map of
// every kept flow by id was the store's largest cost on the proxy's path (bench V): at
// 50,000 flows its table is megabytes, and the lookup of each new flow's id missed the
// caches several times, ~0.6 µs, with as much again for its insert and its removal at
// eviction. So only the records whose object the proxy may hand back through a hook (live
// flows, and kept ones given out to be changed) are found on its path: the newest of them in
// a ring searched from its newest end (a flow's later hooks come while a few others are in
// flight), those still active when the ring moves past them in a map by id. Even a map of a
// few dozen live flows cost ~1.2 µs a flow in the proxy (bench V's profile: an insert of a new
// id, and the map's growing and shrinking as flows come and go); the ring costs a store.
// The index of all records is brought up to date only when someone looks one up by id: the
// API, and the store for a flow that may not be new (read from a file, replayed, a hook after
// the flow was kept); at most one insert per record, none for a proxy's own new flows.

/** What the index needs of a record. */
export interface IndexedRecord {
  /** The id the record is known by (fixed when it came). */
  readonly id: string;
  /** Removed: skipped from now on. */
  gone: boolean;
  /** Set by the index: the record's object may come back through hooks. */
  active: boolean;
  /** Set by the index: the record is in its map of all records. */
  indexed: boolean;
}

/** Gone records in the list are let go once there are this many and they are half of it. */
const COMPACT_MIN = 1024;
/** The map of active records is swept of inactive ones when it grows to this size (or twice what the last sweep left). */
const SWEEP_MIN = 1024;
/** Records in the ring of the newest active ones (a power of two). */
const RECENT = 128;

export class FlowIndex<R extends IndexedRecord> {
  /** The records made active last, newest at `recentAt - 1` (some no longer active). */
  private readonly recent: (R | undefined)[] = new Array<R | undefined>(RECENT).fill(undefined);
  private recentAt = 0;
  /** Records still active when the ring moved past them, by id (and inactive ones until the next sweep). */
  private readonly active = new Map<string, R>();
  private sweepAt = SWEEP_MIN;
  /** Every record in `list` before `indexedUpTo`, by id (a newer record with the same id wins). */
  private readonly byId = new Map<string, R>();
  /** Records in the order they came; gone ones until the next compaction. */
  private list: R[] = [];
  private indexedUpTo = 0;
  private goneInList = 0;
  private count = 0;

  /**
   * `superseded` is told when the index finds an older record with a newer one's id (an addon
   * gave a live flow a kept flow's id): the store drops the older one.
   */
  constructor(private readonly superseded: (older: R) => void) {}

  get size(): number {
    return this.count;
  }

  /** The record whose object may come back with this id, if any: cheap, for the proxy's path. */
  findActive(id: string): R | undefined {
    const recent = this.recent;
    for (let i = 1; i <= RECENT; i++) {
      const rec = recent[(this.recentAt - i) & (RECENT - 1)];
      if (rec === undefined) break;
      if (rec.id === id && rec.active) return rec;
    }
    const rec = this.active.get(id);
    return rec !== undefined && rec.active ? rec : undefined;
  }

  /** Any record with this id: an active one, else from the index (brought up to date first). */
  get(id: string): R | undefined {
    const rec = this.findActive(id);
    if (rec !== undefined) return rec;
    this.catchUp();
    return this.byId.get(id);
  }

  /** Every record, in the order they came (a copy: the caller may remove while it walks). */
  values(): R[] {
    this.catchUp();
    const out: R[] = [];
    for (const rec of this.list) if (!rec.gone) out.push(rec);
    return out;
  }

  /** A new record, whose object may come back. */
  add(rec: R): void {
    this.list.push(rec);
    this.count++;
    rec.active = false;
    this.activate(rec);
  }

  /** The record holds an object the proxy may hand back (a kept flow given out to be changed). */
  activate(rec: R): void {
    if (rec.active) return;
    rec.active = true;
    const at = this.recentAt;
    const leaving = this.recent[at];
    // Still active as the ring moves past it (a long download, a paused flow): into the map.
    if (leaving !== undefined && leaving.active && this.active.get(leaving.id) !== leaving) {
      this.active.set(leaving.id, leaving);
      if (this.active.size >= this.sweepAt) this.sweep();
    }
    this.recent[at] = rec;
    this.recentAt = (at + 1) & (RECENT - 1);
  }

  /** The record no longer holds such an object (it was packed). Its entry goes at the next sweep. */
  deactivate(rec: R): void {
    rec.active = false;
  }

  /** The record was removed (its `gone` already set). */
  removed(rec: R): void {
    this.deactivate(rec);
    if (rec.indexed && this.byId.get(rec.id) === rec) this.byId.delete(rec.id);
    this.count--;
    this.goneInList++;
    if (this.goneInList >= COMPACT_MIN && this.goneInList * 2 >= this.list.length) this.compact();
  }

  clear(): void {
    this.recent.fill(undefined);
    this.recentAt = 0;
    this.active.clear();
    this.sweepAt = SWEEP_MIN;
    this.byId.clear();
    this.list = [];
    this.indexedUpTo = 0;
    this.goneInList = 0;
    this.count = 0;
  }

  /** Indexes the records that came since the last lookup. */
  private catchUp(): void {
    while (this.indexedUpTo < this.list.length) {
      const rec = this.list[this.indexedUpTo++]!;
      if (rec.gone) continue;
      const older = this.byId.get(rec.id);
      rec.indexed = true;
      this.byId.set(rec.id, rec);
      // `superseded` removes the older one: it must not find it still indexed.
      if (older !== undefined && older !== rec && !older.gone) {
        this.byId.delete(rec.id);
        this.superseded(older);
        this.byId.set(rec.id, rec);
      }
    }
  }

  /** Deletes the entries of records no longer active (a newer active one with the same id keeps its entry). */
  private sweep(): void {
    for (const [id, rec] of this.active) if (!rec.active) this.active.delete(id);
    this.sweepAt = Math.max(SWEEP_MIN, 2 * this.active.size);
  }

  /** Drops the gone records from the list, keeping the indexed part's end in step. */
  private compact(): void {
    const kept: R[] = [];
    let indexed = 0;
    for (let i = 0; i < this.list.length; i++) {
      const rec = this.list[i]!;
      if (rec.gone) continue;
      kept.push(rec);
      if (i < this.indexedUpTo) indexed++;
    }
    this.list = kept;
    this.indexedUpTo = indexed;
    this.goneInList = 0;
  }
}
