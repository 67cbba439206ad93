// A tiny WebAssembly bytecode emitter: enough of the binary format (module,
// sections, LEB128, the scalar and SIMD opcodes the kernels use) to build
// kernels from TypeScript with no toolchain. Reference: the WebAssembly core
// spec (binary format) and the fixed-width and relaxed SIMD proposals.

/** Value types. */
export const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number, out: number[] = []): number[] {
  if (n < 0 || !Number.isInteger(n)) throw new RangeError(`uleb: expected a non-negative integer, got ${n}`);
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** Signed LEB128 (32-bit range is enough for i32.const). */
export function sleb(n: number, out: number[] = []): number[] {
  if (!Number.isInteger(n)) throw new RangeError(`sleb: expected an integer, got ${n}`);
  for (;;) {
    const byte = n & 0x7f;
    n = Math.floor(n / 128);
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Scalar opcodes (single byte). */
export const Op = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  i64_load: 0x29,
  f32_load: 0x2a,
  f64_load: 0x2b,
  i32_load8_u: 0x2d,
  i32_store: 0x36,
  i64_store: 0x37,
  f32_store: 0x38,
  f64_store: 0x39,
  i32_const: 0x41,
  f32_const: 0x43,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_ge_s: 0x4e,
  f32_gt: 0x5e,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  f32_add: 0x92,
  f32_sub: 0x93,
  f32_mul: 0x94,
  f32_div: 0x95,
  f64_convert_i32_s: 0xb7,
  f64_convert_i32_u: 0xb8,
  f64_promote_f32: 0xbb,
  f64_add: 0xa0,
  f32_demote_f64: 0xb6,
} as const;

/** SIMD opcodes (emitted as 0xfd followed by the LEB128 of the code). */
export const Simd = {
  v128_load: 0x00,
  v128_load32_splat: 0x09,
  v128_store: 0x0b,
  v128_const: 0x0c,
  i8x16_shuffle: 0x0d,
  i32x4_splat: 0x11,
  f32x4_splat: 0x13,
  f64x2_splat: 0x14,
  f32x4_extract_lane: 0x1f,
  f32x4_replace_lane: 0x20,
  f64x2_extract_lane: 0x21,
  f64x2_replace_lane: 0x22,
  i32x4_eq: 0x37,
  f32x4_ne: 0x42,
  f32x4_gt: 0x44,
  f64x2_eq: 0x47,
  f64x2_ne: 0x48,
  f64x2_lt: 0x49,
  f64x2_gt: 0x4a,
  f64x2_le: 0x4b,
  f64x2_ge: 0x4c,
  v128_not: 0x4d,
  v128_and: 0x4e,
  v128_andnot: 0x4f,
  v128_or: 0x50,
  v128_xor: 0x51,
  v128_bitselect: 0x52,
  v128_any_true: 0x53,
  v128_store64_lane: 0x5b,
  v128_load32_zero: 0x5c,
  v128_load64_zero: 0x5d,
  f32x4_demote_f64x2_zero: 0x5e,
  f64x2_promote_low_f32x4: 0x5f,
  f64x2_ceil: 0x74,
  f64x2_floor: 0x75,
  i32x4_add: 0xae,
  f32x4_neg: 0xe1,
  f32x4_add: 0xe4,
  f32x4_sub: 0xe5,
  f32x4_mul: 0xe6,
  f32x4_div: 0xe7,
  f64x2_abs: 0xec,
  f64x2_neg: 0xed,
  f64x2_sqrt: 0xef,
  f64x2_add: 0xf0,
  f64x2_sub: 0xf1,
  f64x2_mul: 0xf2,
  f64x2_div: 0xf3,
  f32x4_relaxed_madd: 0x105,
} as const;

/** Block type with no results. */
export const EMPTY = 0x40;

/** Builds the body of one function: locals plus an instruction byte stream. */
export class FuncBuilder {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];
  constructor(readonly params: ValType[], readonly results: ValType[]) {}

  /** Declare a new local; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }
  /** Raw bytes. */
  emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  op(code: number, ...imm: number[]): this {
    return this.emit(code, ...imm);
  }
  get(i: number): this {
    return this.emit(Op.local_get, ...uleb(i));
  }
  set(i: number): this {
    return this.emit(Op.local_set, ...uleb(i));
  }
  tee(i: number): this {
    return this.emit(Op.local_tee, ...uleb(i));
  }
  i32(v: number): this {
    return this.emit(Op.i32_const, ...sleb(v | 0));
  }
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.emit(Op.f32_const, ...b);
  }
  /** A memory access with its memarg (log2 alignment, byte offset). */
  mem(code: number, align: number, offset = 0): this {
    return this.emit(code, ...uleb(align), ...uleb(offset));
  }
  simd(code: number): this {
    return this.emit(0xfd, ...uleb(code));
  }
  /** `i8x16.shuffle` picking four f32 lanes (0..3 from the first vector, 4..7 from the second). */
  shuffle32(lanes: readonly number[]): this {
    return this.simd(Simd.i8x16_shuffle).emit(...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  /** `v128.const` of 16 bytes (default: zero). */
  v128(bytes: readonly number[] = new Array(16).fill(0)): this {
    return this.simd(Simd.v128_const).emit(...bytes);
  }
  /** `memory.copy` (dst, src, bytes on the stack). */
  memoryCopy(): this {
    return this.emit(0xfc, 10, 0, 0);
  }
  /** `memory.fill` (dst, byte value, bytes on the stack). */
  memoryFill(): this {
    return this.emit(0xfc, 11, 0);
  }
  simdMem(code: number, align: number, offset = 0): this {
    return this.emit(0xfd, ...uleb(code), ...uleb(align), ...uleb(offset));
  }
  block(): this {
    return this.emit(Op.block, EMPTY);
  }
  loop(): this {
    return this.emit(Op.loop, EMPTY);
  }
  /** `if` with an optional result type (a ValType; none by default). */
  if_(result: number = EMPTY): this {
    return this.emit(Op.if, result);
  }
  else_(): this {
    return this.emit(Op.else);
  }
  end(): this {
    return this.emit(Op.end);
  }
  /**
   * `for (i = from; i < limit; i += step) body()` on the i32 local i (signed
   * compare; `from` and `limit` each push one i32, `limit` evaluated every pass).
   */
  forRange(i: number, from: () => void, limit: () => void, step: number, body: () => void): this {
    from();
    this.set(i).block().loop().get(i);
    limit();
    this.op(Op.i32_ge_s).brIf(1);
    body();
    return this.get(i).i32(step).op(Op.i32_add).set(i).br(0).end().end();
  }
  br(depth: number): this {
    return this.emit(Op.br, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.emit(Op.br_if, ...uleb(depth));
  }
  call(funcIndex: number): this {
    return this.emit(Op.call, ...uleb(funcIndex));
  }
  /** `v128.const` with all lanes zero. */
  v128Zero(): this {
    this.simd(Simd.v128_const);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  /** The encoded function body (locals + code + end), with its size prefix. */
  body(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.locals.length;) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      groups.push([...uleb(j - i), this.locals[i]]);
      i = j;
    }
    const b = [...vec(groups), ...this.code, Op.end];
    return [...uleb(b.length), ...b];
  }
}

export interface MemoryImport {
  module: string;
  name: string;
  initial: number;
  maximum?: number;
  shared?: boolean;
}

/** Assembles a module from functions, an optional imported or defined memory, and exports. */
export class ModuleBuilder {
  private readonly types: number[][] = [];
  private readonly funcs: { type: number; fb: FuncBuilder; export?: string }[] = [];
  private memImport: MemoryImport | null = null;
  private memDef: { initial: number; maximum?: number; export?: string } | null = null;

  private typeIndex(params: ValType[], results: ValType[]): number {
    const enc = [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];
    const key = enc.join(",");
    const i = this.types.findIndex((t) => t.join(",") === key);
    if (i >= 0) return i;
    this.types.push(enc);
    return this.types.length - 1;
  }

  importMemory(m: MemoryImport): this {
    this.memImport = m;
    return this;
  }
  defineMemory(initial: number, maximum?: number, exportName?: string): this {
    this.memDef = { initial, maximum, export: exportName };
    return this;
  }
  /** Add a function (optionally exported); returns its index. */
  func(fb: FuncBuilder, exportName?: string): number {
    this.funcs.push({ type: this.typeIndex(fb.params, fb.results), fb, export: exportName });
    return this.funcs.length - 1;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, payload: number[]) => {
      out.push(id, ...uleb(payload.length));
      for (const b of payload) out.push(b);
    };
    const limits = (initial: number, maximum?: number, shared?: boolean): number[] =>
      maximum === undefined ? [0x00, ...uleb(initial)] : [shared ? 0x03 : 0x01, ...uleb(initial), ...uleb(maximum)];
    section(1, vec(this.types));
    if (this.memImport) {
      const m = this.memImport;
      section(2, vec([[...name(m.module), ...name(m.name), 0x02, ...limits(m.initial, m.maximum, m.shared)]]));
    }
    section(3, vec(this.funcs.map((f) => uleb(f.type))));
    if (this.memDef) section(5, vec([limits(this.memDef.initial, this.memDef.maximum)]));
    const exps: number[][] = [];
    this.funcs.forEach((f, i) => {
      if (f.export) exps.push([...name(f.export), 0x00, ...uleb(i)]);
    });
    if (this.memDef?.export) exps.push([...name(this.memDef.export), 0x02, 0x00]);
    section(7, vec(exps));
    section(10, vec(this.funcs.map((f) => f.fb.body())));
    return new Uint8Array(out);
  }
}

function probe(useRelaxed: boolean): Uint8Array<ArrayBuffer> {
  const f = new FuncBuilder([I32], [V128]);
  f.get(0).simdMem(Simd.v128_load32_splat, 2).get(0).simdMem(Simd.v128_load32_splat, 2);
  if (useRelaxed) f.get(0).simdMem(Simd.v128_load32_splat, 2).simd(Simd.f32x4_relaxed_madd);
  else f.simd(Simd.f32x4_mul);
  const m = new ModuleBuilder().defineMemory(1);
  m.func(f, "f");
  return m.bytes();
}

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** True when this engine validates WebAssembly fixed-width SIMD (f32x4). */
export const HAS_SIMD: boolean = validates(probe(false));

/** True when this engine also validates relaxed SIMD (`f32x4.relaxed_madd`). */
export const HAS_RELAXED_SIMD: boolean = HAS_SIMD && validates(probe(true));

/** True when shared WebAssembly memories (threads) can be created. */
export const HAS_SHARED_MEMORY: boolean = (() => {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
})();
