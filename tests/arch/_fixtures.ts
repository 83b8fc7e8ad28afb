/**
 * The torch checkpoint fixtures (tests/fixtures/torch/checkpoints, written by
 * gen_checkpoints.py with Debian's python3-torch) and the reduced-size
 * architecture definitions they belong to, made by the registry's own
 * factories so that the tested code paths are the registered ones.
 */
import {
  type ArchDefinition,
  mobileoneArch,
  repmlpNetArch,
  repmlpResnetArch,
  repvggArch,
  resnetArch,
} from "../../arch/mod.ts";
import type {
  MobileoneConfig,
  RepmlpNetConfig,
  RepmlpResnetConfig,
  RepvggConfig,
  ResnetConfig,
} from "../../examples/mod.ts";
import { fromFileUrl } from "../_path.ts";

/** The fixtures folder, as a path. */
export const CHECKPOINTS = fromFileUrl(
  new URL("../fixtures/torch/checkpoints/", import.meta.url).href,
);

/** One checkpoint file (or folder) of an architecture. */
export interface CheckpointFixture {
  readonly file: string;
  readonly layout: string;
  readonly expected: string;
  readonly wrapper: string;
}

/** One reduced-size architecture of the fixtures. */
export interface ArchFixture {
  readonly family:
    | "repmlpnet"
    | "repmlp-resnet"
    | "res50"
    | "res50-torchvision"
    | "repvgg"
    | "mobileone";
  readonly config: unknown;
  /**
   * RepVGG and MobileOne: how far PyTorch's own converted model (float32 weights) is from the
   * training-time one in float64, relative to the largest logit: the fixture's float32 noise floor.
   */
  readonly deployDrift?: number;
  readonly input: string;
  readonly inputShape: number[];
  readonly checkpoints: readonly CheckpointFixture[];
}

/** manifest.json. */
export interface Manifest {
  readonly torch: string;
  readonly batch: number;
  readonly archs: Readonly<Record<string, ArchFixture>>;
  readonly hostile: Readonly<Record<"system" | "module" | "legacy", string>>;
}

/** The manifest written by gen_checkpoints.py. */
export const MANIFEST: Manifest = JSON.parse(
  Deno.readTextFileSync(`${CHECKPOINTS}manifest.json`),
);

/** The definition a fixture architecture is built with. */
export function definitionOf(name: string): ArchDefinition {
  const fixture = MANIFEST.archs[name];
  const res50 = () =>
    resnetArch(
      "Res50-reduced",
      "reduced Res50",
      MANIFEST.archs.res50.config as RepmlpResnetConfig,
      MANIFEST.archs.res50_torchvision.config as ResnetConfig,
    );
  switch (fixture.family) {
    case "repmlpnet":
      return repmlpNetArch(`${name}-reduced`, "", fixture.config as RepmlpNetConfig);
    case "repmlp-resnet":
      return repmlpResnetArch(`${name}-reduced`, "", fixture.config as RepmlpResnetConfig);
    case "res50":
    case "res50-torchvision":
      return res50();
    case "repvgg":
      return repvggArch(`${name}-reduced`, "", fixture.config as RepvggConfig);
    case "mobileone":
      return mobileoneArch(`${name}-reduced`, "", fixture.config as MobileoneConfig);
  }
}

/** A little-endian float32 file. */
export function readF32(file: string): Float32Array {
  const bytes = Deno.readFileSync(`${CHECKPOINTS}${file}`);
  const view = new DataView(bytes.buffer);
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

/** A little-endian float64 file. */
export function readF64(file: string): Float64Array {
  const bytes = Deno.readFileSync(`${CHECKPOINTS}${file}`);
  const view = new DataView(bytes.buffer);
  return Float64Array.from({ length: bytes.length / 8 }, (_, i) => view.getFloat64(8 * i, true));
}
