/**
 * The plain-JS target: model.js runs the deployed graph with the ops'
 * reference semantics in float32. It is the simplest honest implementation
 * of the module contract, and the baseline the fast targets are tested against.
 */
import { type Graph, type Node, RefoldError, topoOrder } from "../../ir/mod.ts";
import type { Backend, EmitOptions, EmitResult, EmittedFile } from "../backend.ts";
import { bundleModule, runtimeImport } from "../bundle.ts";
import { declarationFile, type Ports, tensorInfos } from "../declarations.ts";
import { loadFunction, storedWeights, storePackedWeights } from "../weight_file.ts";
import { packWeights, toBase64, type WeightPack } from "../weights.ts";
import type { Operand, Program, Step } from "./runtime/run.ts";

const DEFAULT_INLINE_LIMIT = 64 * 1024;

/** Lowers a graph to the runtime's program: steps in topological order, weights packed. */
export function buildProgram(
  graph: Graph,
): { program: Program; weights: Uint8Array; pack: WeightPack } {
  const pack = packWeights(graph);
  const weightIndex = new Map(pack.order.map((node, i) => [node, i]));
  const inputIndex = new Map<Node, number>(graph.inputs.map((node, i) => [node, i]));
  const stepIndex = new Map<Node, number>();
  const computed = topoOrder(graph).filter((node) => node.op !== "input" && node.op !== "weight");
  const operandOf = (node: Node): Operand =>
    inputIndex.has(node)
      ? { input: inputIndex.get(node)! }
      : weightIndex.has(node)
      ? { weight: weightIndex.get(node)! }
      : { step: stepIndex.get(node)! };
  const lastUse = new Map<Node, number>();
  computed.forEach((node, index) => node.inputs.forEach((input) => lastUse.set(input, index)));
  const outputs = new Set(graph.outputs.map(({ node }) => node));
  const steps: Step[] = computed.map((node, index) => {
    stepIndex.set(node, index);
    const release = [...new Set(node.inputs)]
      .filter((input) =>
        stepIndex.has(input) && lastUse.get(input) === index && !outputs.has(input)
      )
      .map((input) => stepIndex.get(input)!);
    return {
      op: node.op,
      attrs: node.attrs as Record<string, unknown>,
      operands: node.inputs.map(operandOf),
      shape: node.type.shape,
      release,
    };
  });
  const program: Program = {
    ...tensorInfos(graph),
    outputSteps: graph.outputs.map(({ node }) => operandOf(node)),
    weights: pack.order.map((node) => pack.slots.get(node)!),
    steps,
    weightBytes: pack.bytes.byteLength,
  };
  return { program, weights: pack.bytes, pack };
}

/** model.d.ts: run()'s argument and result typed by the names of this model's ports. */
function declarations(ports: Ports): string {
  const record = (infos: Ports["inputs"]) =>
    `{ ${infos.map((info) => `${JSON.stringify(info.name)}: Float32Array`).join("; ")} }`;
  return declarationFile(ports, {
    target: "js",
    members: [
      { text: `run(x: Float32Array): Promise<Float32Array | ${record(ports.outputs)}>;` },
      { text: `run(x: ${record(ports.inputs)}): Promise<${record(ports.outputs)}>;` },
    ],
  });
}

/** The js target. */
export const jsBackend: Backend = {
  name: "js",
  async emit(graph: Graph, options: EmitOptions = {}): Promise<EmitResult> {
    if (options.quantize) {
      throw new RefoldError(
        "--quantize int8: the js target computes in f32; store int8 weights with " +
          "--weight-dtype int8, or quantize for --target onnx",
      );
    }
    const { program, pack } = buildProgram(graph);
    const dtype = options.weightDType ?? "f32";
    const stored = dtype === "f32" ? undefined : storePackedWeights(graph, pack, dtype);
    const weights = stored?.bytes ?? pack.bytes;
    const inline = weights.byteLength <= (options.inlineWeightLimit ?? DEFAULT_INLINE_LIMIT);
    const embedded = inline ? toBase64(weights) : undefined;
    const shipped: Program = embedded !== undefined && !stored
      ? { ...program, embeddedWeights: embedded }
      : program;
    const storedSpec = stored && storedWeights(stored, embedded);
    const entry = [
      `import { loadProgram } from ${runtimeImport("./js/runtime/run.ts")};`,
      `const PROGRAM = ${JSON.stringify(shipped)};`,
      ...loadFunction(storedSpec, (opts) => `loadProgram(PROGRAM, import.meta.url, ${opts})`),
    ].join("\n");
    const files: EmittedFile[] = [
      { path: "model.js", contents: await bundleModule(entry) },
      { path: "model.d.ts", contents: declarations(program) },
    ];
    if (!inline) files.push({ path: "weights.bin", contents: weights });
    return {
      files,
      notes: [`${program.steps.length} steps, weights ${inline ? "embedded" : "in weights.bin"}`],
      ...(stored ? { weights: stored.report } : {}),
    };
  },
};
