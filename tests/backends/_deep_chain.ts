// A chain of 50,000 elementwise nodes, shared by the wasm and the WebGPU deep-graph tests.
import { type Graph, GraphBuilder, type Node } from "../../ir/mod.ts";

export const PAIRS = 25_000;

export function deepChain(): Graph {
  const b = new GraphBuilder("deep");
  const x = b.input("x", [1, 8]);
  let h: Node = x;
  for (let i = 0; i < PAIRS; i++) h = b.relu(b.add(h, x));
  b.output("y", h);
  return b.build();
}

// Multiples of 1/4 below 2^20: every sum is exact in float32, so the outputs must match exactly
// (a lane that starts negative stays at 0, the others climb to 25,000 x).
export const feeds = { x: Float32Array.of(-1.25, 0.5, 2, -0.75, 1, -2, 0.25, 1.5) };
