/**
 * Tiled GEMM for linear layers and (implicit-GEMM) convolutions. A workgroup
 * of up to 256 invocations computes a TM x TN output tile of one group, each
 * invocation an RM x RN register tile; A and B tiles of depth TK are staged
 * in workgroup memory. Every group of a grouped or share-set FC is in the
 * same dispatch: the linear workgroup index enumerates (group, row tile,
 * column tile). A is read through the kernel's prologue expression (so
 * partition permutes and elementwise producers cost no pass of their own),
 * for convolutions through an on-the-fly im2col with zero padding.
 */
import type { GemmSpec } from "../spec.ts";
import { entry } from "./map.ts";
import { type ShaderBuilder, type StorageClass, u32 } from "./shader.ts";
import { finishFunction, splitDepth } from "./split.ts";

/** Tile shape: TM x TN outputs per workgroup, RM x RN per invocation, depth TK. */
export interface Tiling {
  readonly tm: number;
  readonly tn: number;
  readonly rm: number;
  readonly rn: number;
  readonly tk: number;
}

/** RM x RN per invocation for each TM x TN tile: (TM / RM) * (TN / RN) invocations, at most 256. */
const REGISTERS: Readonly<Record<string, readonly [number, number]>> = {
  "4x32": [1, 1],
  "4x64": [1, 1],
  "4x128": [1, 2],
  "8x32": [1, 1],
  "8x64": [1, 2],
  "8x128": [1, 4],
  "16x32": [1, 2],
  "16x64": [1, 4],
  "16x128": [2, 4],
  "32x32": [2, 2],
  "32x64": [2, 4],
  "64x32": [4, 2],
  "64x64": [4, 4],
};

/**
 * Picks a tile for `m` rows and `nc` columns per group. Few rows (a batch-1
 * RepMLP fc3 has 4 to 64) get short, wide tiles: the weights dominate, and
 * fewer workgroups stream them in longer runs.
 */
export function chooseTiling(m: number, nc: number): Tiling {
  const tm = m <= 4 ? 4 : m <= 8 ? 8 : m <= 16 ? 16 : m <= 32 ? 32 : 64;
  const tn = nc <= 32 ? 32 : tm <= 16 && nc > 64 ? 128 : 64;
  const [rm, rn] = REGISTERS[`${tm}x${tn}`];
  // Big tiles take shallower k steps, which also keeps llvmpipe's shader compile time down.
  return { tm, tn, rm, rn, tk: tm === 64 && tn === 64 ? 8 : 16 };
}

/** Invocations per workgroup of a tiling. */
export function tilingThreads(tiling: Tiling): number {
  return (tiling.tm / tiling.rm) * (tiling.tn / tiling.rn);
}

/** Bytes of workgroup memory a tiling uses. */
export function tilingStorage(tiling: Tiling): number {
  return tiling.tk * (tiling.tm + tiling.tn) * 4;
}

function index(base: string, thread: string, lanes: number, lane: number): string {
  if (lanes === 1) return `${base} + ${thread}`;
  return `${base} + ${thread} * ${u32(lanes)}${lane === 0 ? "" : ` + ${u32(lane)}`}`;
}

function vector(lanes: number): string {
  return lanes === 1 ? "f32" : `vec${lanes}<f32>`;
}

/**
 * The register tile: each invocation owns RM consecutive rows and RN
 * consecutive columns, read from workgroup memory as one vector each per
 * step of k; the accumulators, the inner product step and the finishes.
 */
function registerTile(tiling: Tiling): { accs: string[]; inner: string[]; finishes: string[] } {
  const { rm, rn } = tiling;
  const vn = vector(rn);
  const inner = [
    "      let a = sa[kk * TMV + ty];",
    "      let b = sb[kk * TNV + tx];",
  ];
  const accs: string[] = [];
  const finishes: string[] = [];
  for (let r = 0; r < rm; r++) {
    const lane = rm === 1 ? "a" : `a[${r}]`;
    inner.push(`      acc${r} = fma(${rn === 1 ? lane : `${vn}(${lane})`}, b, acc${r});`);
    accs.push(`  var acc${r} = ${vn}(0.0);`);
    for (let c = 0; c < rn; c++) {
      finishes.push(
        `  finish(${index("m0", "ty", rm, r)}, ${index("j0", "tx", rn, c)}, g, s, acc${r}${
          rn === 1 ? "" : `[${c}]`
        });`,
      );
    }
  }
  return { accs, inner, finishes };
}

/** The loop over k: A and weight tiles staged in workgroup memory, then the register tile. */
function kLoop(tiling: Tiling, weight: string, inner: readonly string[]): string[] {
  const { rm, rn } = tiling;
  const threads = tilingThreads(tiling);
  return [
    "  for (var k0 = kb; k0 < ke; k0 = k0 + TK) {",
    `    for (var e = li; e < TM * TK; e = e + ${u32(threads)}) {`,
    "      let r = e / TK;",
    "      let m = m0 + r;",
    "      let k = k0 + e % TK;",
    "      var v = 0.0;",
    "      if (m < M && k < ke) { v = load_a(m, g * K + k); }",
    rm === 1
      ? "      sa[(e % TK) * TMV + r] = v;"
      : `      sa[(e % TK) * TMV + r / ${u32(rm)}][r % ${u32(rm)}] = v;`,
    "    }",
    `    for (var e = li; e < TN * TK; e = e + ${u32(threads)}) {`,
    "      let j = j0 + e % TN;",
    "      let k = k0 + e / TN;",
    "      var v = 0.0;",
    `      if (j < NC && k < K) { v = ${weight}; }`,
    rn === 1
      ? "      sb[e] = v;"
      : `      sb[(e / TN) * TNV + (e % TN) / ${u32(rn)}][e % ${u32(rn)}] = v;`,
    "    }",
    "    workgroupBarrier();",
    "    for (var kk = 0u; kk < TK; kk = kk + 1u) {",
    ...inner,
    "    }",
    "    workgroupBarrier();",
    "  }",
  ];
}

/** Renders a GEMM kernel; returns its body and workgroup count. */
export function renderGemm(
  spec: GemmSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): { body: string; workgroups: number } {
  const tiling = chooseTiling(spec.m, spec.nc);
  const { tm, tn, rm, rn, tk } = tiling;
  const tx = tn / rn;
  const tilesM = Math.ceil(spec.m / tm), tilesN = Math.ceil(spec.nc / tn);
  const tiles = spec.gc * tilesM * tilesN;
  const workgroups = spec.splits * tiles;
  shader.helper(loadA(spec, shader));
  const weight = shader.load(spec.w.ref, spec.w.view, ["(g - G0) * NC + j", "k"]);
  shader.helper(finishFunction(spec, shader, outClass));
  const consts = [
    ["M", spec.m],
    ["K", spec.k],
    ["NG", spec.n],
    ["G0", spec.g0],
    ["NB", spec.nb],
    ["NC", spec.nc],
    ["TILES_M", tilesM],
    ["TILES_N", tilesN],
    ["TM", tm],
    ["TN", tn],
    ["TK", tk],
    ["TMV", tm / rm],
    ["TNV", tn / rn],
    ["KS", splitDepth(spec, tk)],
  ].map(([name, value]) => `const ${name}: u32 = ${u32(value as number)};`);
  const { accs, inner, finishes } = registerTile(tiling);
  const body = [
    ...consts,
    `var<workgroup> sa: array<${vector(rm)}, TK * TMV>;`,
    `var<workgroup> sb: array<${vector(rn)}, TK * TNV>;`,
    entry(workgroups, `${tilingThreads(tiling)}`),
    `  let s = t / ${u32(tiles)};`,
    `  let tile = t % ${u32(tiles)};`,
    "  let tn = tile % TILES_N;",
    "  let tm = (tile / TILES_N) % TILES_M;",
    "  let g = G0 + tile / (TILES_N * TILES_M);",
    "  let kb = s * KS;",
    "  let ke = min(kb + KS, K);",
    "  let m0 = tm * TM;",
    "  let j0 = tn * TN;",
    `  let tx = li % ${u32(tx)};`,
    `  let ty = li / ${u32(tx)};`,
    ...accs,
    ...kLoop(tiling, weight, inner),
    ...finishes,
    "}",
  ].join("\n");
  return { body, workgroups };
}

/** `load_a(m, k)`: the A element, through im2col for convolutions. */
export function loadA(spec: GemmSpec, shader: ShaderBuilder): string {
  const conv = spec.conv;
  if (!conv) {
    return `fn load_a(m: u32, k: u32) -> f32 {\n  return ${shader.expr(spec.a, ["m", "k"])};\n}`;
  }
  const { kernel: [kh, kw], stride, dilation, pads } = conv.window;
  const x = shader.expr(spec.a, ["b", "c", "u32(iy)", "u32(ix)"]);
  const bounds = pads.some((pad) => pad > 0)
    ? `  if (iy < 0 || ix < 0 || iy >= ${conv.height} || ix >= ${conv.width}) { return 0.0; }\n`
    : "";
  return [
    "fn load_a(m: u32, k: u32) -> f32 {",
    `  let ox = m % ${u32(conv.outWidth)};`,
    `  let oy = (m / ${u32(conv.outWidth)}) % ${u32(conv.outHeight)};`,
    `  let b = m / ${u32(conv.outWidth * conv.outHeight)};`,
    `  let kx = k % ${u32(kw)};`,
    `  let ky = (k / ${u32(kw)}) % ${u32(kh)};`,
    `  let c = k / ${u32(kw * kh)};`,
    `  let iy = i32(oy * ${u32(stride[0])} + ky * ${u32(dilation[0])}) - ${pads[0]};`,
    `  let ix = i32(ox * ${u32(stride[1])} + kx * ${u32(dilation[1])}) - ${pads[1]};`,
    bounds + `  return ${x};`,
    "}",
  ].join("\n");
}
