// Random chains of reshapes, transposes and elementwise ops after a GEMM or an elementwise
// kernel: whatever the lowering fuses, stores through a view or materializes, the module must
// compute what the interpreter computes.
import fc from "fast-check";
import { GraphBuilder, type Node, sizeOf, uniform } from "../../ir/mod.ts";
import { checkGraph } from "./_run.ts";

type Step =
  | { kind: "reshape"; seed: number }
  | { kind: "transpose"; seed: number }
  | { kind: "unary"; fn: "relu" | "sigmoid" | "gelu" }
  | { kind: "binary"; fn: "add" | "sub" | "mul" | "div"; mask: number; swap: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("reshape" as const), seed: fc.nat() }),
  fc.record({ kind: fc.constant("transpose" as const), seed: fc.nat() }),
  fc.record({
    kind: fc.constant("unary" as const),
    fn: fc.constantFrom("relu" as const, "sigmoid" as const, "gelu" as const),
  }),
  fc.record({
    kind: fc.constant("binary" as const),
    fn: fc.constantFrom("add" as const, "sub" as const, "mul" as const, "div" as const),
    mask: fc.nat(15),
    swap: fc.boolean(),
  }),
);

/** Splits `size` into a shape of 2 to 4 axes chosen by `seed`. */
function reshapeTo(size: number, seed: number): number[] {
  const factors: number[] = [];
  let rest = size;
  for (let d = 2; d <= rest; d++) while (rest % d === 0) factors.push(d), rest /= d;
  const axes = 2 + (seed % 3);
  const shape = new Array(axes).fill(1);
  factors.forEach((factor, i) => (shape[(i * 7 + seed) % axes] *= factor));
  return shape;
}

function permutation(rank: number, seed: number): number[] {
  const perm = [...Array(rank).keys()];
  for (let i = rank - 1, s = seed; i > 0; i--, s = Math.floor(s / 5) + 3) {
    const j = s % (i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

let seed = 100;

function apply(b: GraphBuilder, x: Node, step: Step): Node {
  const shape = x.type.shape;
  switch (step.kind) {
    case "reshape":
      return b.reshape(x, reshapeTo(sizeOf(shape), step.seed));
    case "transpose":
      return b.transpose(x, permutation(shape.length, step.seed));
    case "unary":
      return b[step.fn](x);
    case "binary": {
      // An operand broadcast over some axes (mask bit set: the axis stays).
      const operandShape = shape.map((dim, axis) => ((step.mask >> axis) & 1 ? dim : 1));
      const low = step.fn === "div" ? 0.5 : -1;
      const operand = b.weight(
        `c${seed}`,
        operandShape,
        uniform(sizeOf(operandShape), seed++, low, low + 1),
      );
      // Never divide by the chain's value: a ReLU zero would make it infinite.
      return step.swap && step.fn !== "div" ? b[step.fn](operand, x) : b[step.fn](x, operand);
    }
  }
}

Deno.test("fusion: random view and elementwise chains after linear, conv and add", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("linear", "conv", "add"),
      fc.array(stepArb, { minLength: 1, maxLength: 6 }),
      async (head, steps) => {
        const b = new GraphBuilder("chain");
        const x = b.input("x", [2, 6, 4, 5]);
        let value: Node;
        if (head === "linear") {
          value = b.linear(x, b.weight("w", [10, 5], uniform(50, 1)), undefined, { groups: 1 });
        } else if (head === "conv") {
          value = b.conv2d(x, b.weight("w", [4, 3, 3, 3], uniform(108, 2)), undefined, {
            padding: 1,
            groups: 2,
          });
        } else value = b.add(x, b.weight("w", [5], uniform(5, 3)));
        for (const step of steps) value = apply(b, value, step);
        b.output("y", value);
        await checkGraph(b.build());
      },
    ),
    { numRuns: 40, seed: 77 },
  );
});
