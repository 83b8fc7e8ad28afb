// Property tests of group-fc, canonicalize and lower-batchnorm over random shapes: grouped FCs
// with finer block structure, share-sets (repeating blocks) with distinct or repeating biases per
// group, FCs summed or concatenated on one input, view chains, 1x1 convs on (N, K, 1, 1), and
// BatchNorms on any axis. Each pass runs alone, must rewrite what was built for it, and must
// keep the float64 interpreter's outputs within REWRITE_TOLERANCE.
import fc from "fast-check";
import { type Graph, type Node, topoOrder } from "../../ir/mod.ts";
import { checkPass, opCount, RUNS, start } from "./_geometry.ts";

const small = (max: number) => fc.integer({ min: 1, max });
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** The groups of every FC in a graph. */
const fcGroups = (graph: Graph) =>
  topoOrder(graph).filter((node) => node.op === "linear").map((node) =>
    (node as Node<"linear">).attrs.groups
  );

/**
 * A grouped FC whose weight has structure for group-fc to find: zero off finer
 * diagonal blocks ("finer"), or blocks repeating with a period ("shared", the
 * RepMLPNet share-set) whose biases repeat too, or differ per group.
 */
const structuredFc = fc.record({
  rows: small(3),
  groups: fc.constantFrom(1, 2, 3, 4, 6),
  kPerBlock: small(3),
  nPerBlock: small(3),
  structure: fc.constantFrom("dense", "finer", "shared"),
  split: fc.constantFrom(2, 3),
  period: small(6),
  bias: fc.constantFrom("none", "distinct", "periodic"),
  seed,
});

Deno.test("property: group-fc finds finer groups and share-sets, biases included", () => {
  fc.assert(
    fc.property(structuredFc, (g) => {
      // finer: `split` sub-blocks per group; shared: block i repeats block i mod `period`.
      const sub = g.structure === "finer" ? g.split : 1;
      const period = g.structure === "shared" && g.groups % g.period === 0 ? g.period : g.groups;
      const kg = g.kPerBlock * sub, ng = g.nPerBlock * sub; // per group of the FC as built
      const k = g.groups * kg, n = g.groups * ng;
      const { b, w } = start("group", g.seed);
      const block = w.make("blocks", [period * ng * kg]).data!;
      const weight = new Float32Array(n * kg);
      for (let row = 0; row < n; row++) {
        const group = Math.floor(row / ng), inGroup = row % ng;
        for (let col = 0; col < kg; col++) {
          // Zero outside the finer diagonal sub-blocks of this group.
          const keep = sub === 1 ||
            Math.floor(inGroup / g.nPerBlock) === Math.floor(col / g.kPerBlock);
          weight[row * kg + col] = keep ? block[((group % period) * ng + inGroup) * kg + col] : 0;
        }
      }
      const biases = w.make("bias", [n]).data!;
      const bias = g.bias === "periodic"
        ? Float32Array.from({ length: n }, (_, i) => biases[i % (period * ng)])
        : biases;
      const x = b.input("x", [g.rows, k]);
      const fcNode = b.linear(
        x,
        w.exact("fc.weight", [n, kg], weight),
        g.bias === "none" ? undefined : w.exact("fc.bias", [n], bias),
        { groups: g.groups },
      );
      b.output("y", fcNode);
      // What group-fc must find: `split` times the groups, or the share-set period (when the
      // biases allow sharing). A distinct bias per group must stop the sharing.
      const shares = period < g.groups && g.bias !== "distinct";
      const expected = sub > 1 ? g.groups * sub : shares ? period : g.groups;
      checkPass("group-fc", b.build(), {
        fired: (after) => fcGroups(after).length === 1 && fcGroups(after)[0] === expected,
        label: JSON.stringify(g),
      });
    }),
    RUNS(400, 9101),
  );
});

/** Two FCs on one input (one through a view of the same rows), summed or concatenated. */
const parallelFcs = fc.record({
  rows: small(3),
  groups: fc.tuple(fc.constantFrom(1, 2, 4), fc.constantFrom(1, 2, 4)),
  kPerGroup: small(3),
  n: fc.tuple(small(3), small(3)),
  bias: fc.tuple(fc.boolean(), fc.boolean()),
  throughView: fc.boolean(),
  seed,
});

Deno.test("property: group-fc merges summed FCs with different groups into one", () => {
  fc.assert(
    fc.property(parallelFcs, (g) => {
      const k = 4 * g.kPerGroup, n = 4 * g.n[0];
      const { b, w } = start("sum", g.seed);
      const x = b.input("x", [g.rows, k]);
      const other = g.throughView ? b.reshape(b.reshape(x, [g.rows * k]), [g.rows, k]) : x;
      const [left, right] = [x, other].map((input, i) =>
        b.linear(
          input,
          w.make("fc.weight", [n, k / g.groups[i]]),
          g.bias[i] ? w.make("fc.bias", [n]) : undefined,
          { groups: g.groups[i] },
        )
      );
      b.output("y", b.add(left, right));
      checkPass("group-fc", b.build(), {
        fired: (after) => opCount(after, "linear") === 1,
        label: JSON.stringify(g),
      });
    }),
    RUNS(200, 9102),
  );
});

Deno.test("property: group-fc merges concatenated FCs into one", () => {
  fc.assert(
    fc.property(parallelFcs, (g) => {
      const k = 4 * g.kPerGroup;
      const { b, w } = start("concat", g.seed);
      const x = b.input("x", [g.rows, k]);
      const fcs = g.n.map((n, i) =>
        b.linear(x, w.make("fc.weight", [n, k]), g.bias[i] ? w.make("fc.bias", [n]) : undefined)
      );
      b.output("y", b.concat(fcs, 1));
      checkPass("group-fc", b.build(), {
        fired: (after) => opCount(after, "linear") === 1 && opCount(after, "concat") === 0,
        label: JSON.stringify(g),
      });
    }),
    RUNS(150, 9103),
  );
});

/** A shape of rank 2 to 4 with small odd and even dimensions. */
const shape = fc.array(small(4), { minLength: 2, maxLength: 4 });

/** A random permutation of `rank` axes, from a seed. */
function permutation(rank: number, key: number): number[] {
  const axes = [...Array(rank).keys()];
  for (let i = rank - 1; i > 0; i--) {
    const j = (key >>> (3 * i)) % (i + 1);
    [axes[i], axes[j]] = [axes[j], axes[i]];
  }
  return axes;
}

const viewChain = fc.record({
  shape,
  steps: fc.array(
    fc.record({
      op: fc.constantFrom("transpose", "reshape", "flatten", "relu", "add0", "mul1"),
      key: fc.integer({ min: 0, max: 2 ** 30 }),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  seed,
});

Deno.test("property: canonicalize simplifies view chains and neutral ops without changing values", () => {
  fc.assert(
    fc.property(viewChain, (g) => {
      const { b, w } = start("views", g.seed);
      let value: Node = b.input("x", g.shape);
      for (const step of g.steps) {
        const dims = value.type.shape;
        if (step.op === "transpose") value = b.transpose(value, permutation(dims.length, step.key));
        else if (step.op === "reshape") {
          value = b.reshape(value, [...dims].reverse());
        } else if (step.op === "flatten") value = b.flatten(value, 1 + (step.key % dims.length));
        else if (step.op === "relu") value = b.relu(value);
        else {
          const fill = step.op === "add0" ? 0 : 1;
          const constant = w.exact(
            "c",
            [dims[dims.length - 1]],
            new Float32Array(dims[dims.length - 1]).fill(fill),
          );
          value = step.op === "add0" ? b.add(value, constant) : b.mul(value, constant);
        }
      }
      b.output("y", b.sigmoid(value));
      checkPass("canonicalize", b.build(), {
        fired: (after) =>
          topoOrder(after).every((node) =>
            node.op !== "flatten" && node.op !== "add" && node.op !== "mul" &&
            !((node.op === "transpose" || node.op === "reshape") &&
              node.inputs[0].op === node.op)
          ),
        label: JSON.stringify(g),
      });
    }),
    RUNS(300, 9104),
  );
});

Deno.test("property: canonicalize reads any 1x1 conv on (N, K, 1, 1) as a grouped FC", () => {
  fc.assert(
    fc.property(
      fc.record({
        n: small(3),
        groups: fc.constantFrom(1, 2, 3),
        kPerGroup: small(3),
        oPerGroup: small(3),
        bias: fc.boolean(),
        seed,
      }),
      (g) => {
        const k = g.groups * g.kPerGroup, o = g.groups * g.oPerGroup;
        const { b, w } = start("pointwise", g.seed);
        const x = b.input("x", [g.n, k, 1, 1]);
        b.output(
          "y",
          b.conv2d(
            x,
            w.make("conv.weight", [o, g.kPerGroup, 1, 1]),
            g.bias ? w.make("conv.bias", [o]) : undefined,
            { groups: g.groups },
          ),
        );
        checkPass("canonicalize", b.build(), {
          fired: (after) => opCount(after, "conv2d") === 0 && opCount(after, "linear") === 1,
          label: JSON.stringify(g),
        });
      },
    ),
    RUNS(150, 9105),
  );
});

Deno.test("property: lower-batchnorm turns a BatchNorm on any axis into mul and add", () => {
  fc.assert(
    fc.property(
      fc.record({
        shape,
        axis: fc.integer({ min: 0, max: 3 }),
        epsilon: fc.double({ min: 1e-6, max: 1e-2, noNaN: true }),
        seed,
      }),
      (g) => {
        const axis = g.axis % g.shape.length;
        const { b, w } = start("lower", g.seed);
        const x = b.input("x", g.shape);
        b.output("y", w.batchnorm(b.relu(x), g.shape[axis], { epsilon: g.epsilon, axis }));
        checkPass("lower-batchnorm", b.build(), {
          fired: (after) => opCount(after, "batchnorm") === 0,
          label: JSON.stringify(g),
        });
      },
    ),
    RUNS(200, 9106),
  );
});
