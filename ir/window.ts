/**
 * The sliding-window geometry that conv2d and the pools share, defined once
 * so that passes and backends describe a window the same way.
 */
import type { Node } from "./node.ts";

/** A 2-D window over NCHW planes. */
export interface Window2d {
  /** [kh, kw]. */
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  /** [top, left, bottom, right] zero padding. */
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
}

/** One windowed op's shapes and window: what lowering a conv or pool needs. */
export interface WindowGeometry {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  /** 1 for pools, which work per channel. */
  readonly groups: number;
  readonly window: Window2d;
}

/** The ops that slide a window over NCHW planes. */
export type WindowOp = "conv2d" | "avgpool" | "maxpool" | "global_avgpool";

/** The window of a conv or pool (a global pool's window is the whole plane). */
export function windowOf(node: Node<WindowOp>): Window2d {
  switch (node.op) {
    case "conv2d": {
      const [, , kh, kw] = node.inputs[1].type.shape;
      const { stride, pads, dilation } = node.attrs;
      return { kernel: [kh, kw], stride, pads, dilation };
    }
    case "avgpool":
    case "maxpool": {
      const { kernel, stride, pads } = node.attrs;
      return { kernel, stride, pads, dilation: [1, 1] };
    }
    case "global_avgpool": {
      const [, , h, w] = node.inputs[0].type.shape;
      return { kernel: [h, w], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1] };
    }
  }
}

/** Shapes, groups and window of a conv or pool. */
export function windowGeometry(node: Node<WindowOp>): WindowGeometry {
  const [batch, channels, height, width] = node.inputs[0].type.shape;
  const [, outChannels, outHeight, outWidth] = node.type.shape;
  const groups = node.op === "conv2d" ? node.attrs.groups : 1;
  return {
    batch,
    channels,
    height,
    width,
    outChannels,
    outHeight,
    outWidth,
    groups,
    window: windowOf(node),
  };
}
