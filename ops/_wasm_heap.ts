// The one WebAssembly.Memory of every wasm kernel family: kernels run one at
// a time and lay out their operands afresh for each call from the bottom up
// (after growWasmHeap), and the top holds resident copies of realized arrays.
//
// Arrays are immutable, so a copy of one in the heap stays valid for as long
// as its place is not reused: a kernel reads an input where an earlier kernel
// copied or wrote it instead of copying it in again (TF.js's and jax-js's
// arrays live in their heaps the same way). The copies fill a ring at the top
// of the shared heap, above every kernel's layout, the oldest making room
// first; the ones a kernel is using (looked up or placed since it prepared the
// heap) are never evicted during that kernel.
import type { TypedArray } from "./_dtype.ts";
import { isStored } from "./_graph.ts";
import { HAS_SHARED_MEMORY, type ModuleBuilder } from "./_wasm.ts";

const PAGE = 65536;
export const MAX_PAGES = 16384; // 1 GiB of address space reserved for the shared heap
const RESIDENT_PAGES = 1024; // the top 64 MiB
const SHARED = HAS_SHARED_MEMORY;

let heapMemory: WebAssembly.Memory | null = null;

/**
 * The one WebAssembly.Memory every wasm kernel family works in (shared with
 * the worker threads when the engine allows; kernels run one at a time and
 * lay out their operands afresh for each call, from float 16 on, after
 * calling {@linkcode growWasmHeap}).
 */
export function wasmHeap(): WebAssembly.Memory {
  return heapMemory ??= SHARED
    ? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true })
    : new WebAssembly.Memory({ initial: 1 });
}

/** Declare {@linkcode wasmHeap} as module `m`'s memory (imported as env.mem). */
export function importHeap(m: ModuleBuilder): ModuleBuilder {
  return m.importMemory({
    module: "env",
    name: "mem",
    initial: 1,
    maximum: SHARED ? MAX_PAGES : undefined,
    shared: SHARED,
  });
}

/**
 * {@linkcode wasmHeap} grown to at least `bytes`, or null when it cannot grow
 * (callers then take their JS path). Every kernel calls it before it writes
 * to the heap: it starts the kernel's use of resident copies. Floats 0..63 are
 * the GEMM's while it runs.
 */
export function growWasmHeap(bytes: number): WebAssembly.Memory | null {
  return ensureHeap(bytes) ? wasmHeap() : null;
}

// Changes whenever a kernel starts (growWasmHeap): the resident copies a kernel
// uses carry its epoch and stay where they are until it ends.
let epoch = 0;

// Kernels' vector loads may read a few floats past an operand's last element (a 4-cell group of strided windows
// loads whole v128s); they never use what they read there, but a copy flush against the end of the memory would trap.
const GUARD = 4096;

/**
 * The top of the shared heap, above every kernel's layout: the ring of resident copies, ending `GUARD` bytes below the
 * end of the memory. Empty without shared memory.
 */
const RESIDENT_ZONE = SHARED
  ? { start: (MAX_PAGES - RESIDENT_PAGES) * PAGE, end: MAX_PAGES * PAGE - GUARD }
  : { start: 0, end: 0 };

/**
 * Grow the heap to hold `bytes`; false when it cannot (or would reach the
 * resident zone). `start`: a kernel starts (false: a step inside one).
 */
export function ensureHeap(bytes: number, start = true): boolean {
  const memory = wasmHeap();
  if (start) epoch++;
  if (SHARED && bytes > RESIDENT_ZONE.start) return false;
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  const pages = Math.ceil((bytes - have) / PAGE);
  if (SHARED && have / PAGE + pages > MAX_PAGES) return false;
  try {
    memory.grow(pages);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- resident copies

interface Slot {
  at: number;
  end: number;
  /** the heap epoch of the kernel that last used it */
  pin: number;
  live: boolean;
}

let slots: Slot[] = [];
let head = RESIDENT_ZONE.start;
const where = new WeakMap<ArrayBufferLike, Slot>();

/** Whether kernels keep and look up resident copies (tests turn it off to compare). */
export const residentTuning: { on: boolean } = { on: RESIDENT_ZONE.end > RESIDENT_ZONE.start };

/** Tests: the next resident copy of `bytes` bytes goes flush against the top of the ring. */
export function _residentAtTopNext(bytes: number): void {
  head = RESIDENT_ZONE.end - ((bytes + 15) & ~15);
}

/** A fresh slot of `bytes` in the ring, evicting the copies it overlaps; null when it would evict one in use. */
function take(bytes: number): Slot | null {
  const zone = RESIDENT_ZONE, size = (bytes + 15) & ~15;
  if (!residentTuning.on || size === 0 || size > (zone.end - zone.start) / 4) return null;
  const memory = wasmHeap();
  if (memory.buffer.byteLength < zone.end) {
    try {
      memory.grow(Math.ceil((zone.end - memory.buffer.byteLength) / PAGE));
    } catch {
      residentTuning.on = false; // the address space is not there: kernels copy their operands in
      return null;
    }
  }
  const at = head + size > zone.end ? zone.start : head, end = at + size;
  const hit = slots.filter((s) => s.at < end && s.end > at);
  if (hit.some((s) => s.pin === epoch)) return null;
  if (hit.length > 0) {
    for (const s of hit) s.live = false;
    slots = slots.filter((s) => s.live);
  }
  const slot = { at, end, pin: epoch, live: true };
  slots.push(slot);
  head = end;
  return slot;
}

/**
 * The byte address in the heap of `view`'s first element when `view` lies in
 * a realized array: its resident copy, made now (the whole array) if it has
 * none. Null otherwise, or when the ring cannot take it now: the caller then
 * copies `view` into its own layout. Call it after the kernel's
 * `growWasmHeap`, whose heap epoch pins the copy for the rest of the kernel.
 */
export function residentAt(view: TypedArray): number | null {
  const data = view.buffer;
  let slot = where.get(data);
  if (slot?.live && residentTuning.on) {
    slot.pin = epoch;
    return slot.at + view.byteOffset;
  }
  if (!isStored(data)) return null;
  slot = take(data.byteLength) ?? undefined;
  if (!slot) return null;
  new Uint8Array(wasmHeap().buffer, slot.at, data.byteLength).set(new Uint8Array(data));
  where.set(data, slot);
  return slot.at + view.byteOffset;
}

/**
 * The byte address of `view`'s elements in the heap: where they are
 * resident, else copied to byte `at` of the caller's layout.
 */
export function placeInHeap(view: TypedArray, at: number): number {
  const r = residentAt(view);
  if (r !== null) return r;
  new Uint8Array(wasmHeap().buffer, at, view.byteLength).set(
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
  );
  return at;
}

/**
 * A ring slot of `bytes` (byte address `at`) for a kernel's output; `keep(out)`
 * then records that the array `out`, a copy of the whole slot's values that
 * becomes the node's buffer unchanged, is resident there. Null when the ring
 * cannot take it (the kernel writes into its own layout).
 */
export function outputSlot(bytes: number): { at: number; keep(out: TypedArray): void } | null {
  const slot = take(bytes);
  return slot && {
    at: slot.at,
    keep(out) {
      if (slot.live && out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) where.set(out.buffer, slot);
    },
  };
}
