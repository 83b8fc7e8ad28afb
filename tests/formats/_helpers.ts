/** Shared by the formats tests: temporary folders, hand-made safetensors bytes, error checks. */
import assert from "node:assert/strict";
import { RefoldError } from "../../ir/mod.ts";

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "refold_formats_" });
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/** One tensor for rawSafetensors: any dtype, bytes as given. */
export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/**
 * safetensors bytes built by hand, so tests can write any dtype and tamper
 * with the header: `edit` may rewrite the header object before encoding.
 */
export function rawSafetensors(
  tensors: readonly RawTensor[],
  edit: (header: Record<string, unknown>) => void = () => {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const { name, dtype, shape, bytes } of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  edit(header);
  return withHeader(JSON.stringify(header), concat(tensors.map((t) => t.bytes)));
}

/** The file for a header text and data, with the header padded to 8 bytes. */
export function withHeader(headerText: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.set(data, 8 + padded);
  return out;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Little-endian bytes of 16-bit words. */
export function u16Bytes(words: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Uint16Array.from(words).buffer);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Asserts that `run` throws a one-line RefoldError whose message, with `dir`
 * shown as `<dir>`, equals `expected`.
 */
export async function assertRefoldError(
  run: () => unknown,
  expected: string,
  dir?: string,
): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof RefoldError, `expected a RefoldError, got ${caught}`);
  const message = dir ? caught.message.replaceAll(dir, "<dir>") : caught.message;
  assert.ok(!message.includes("\n"), `message is not one line: ${message}`);
  assert.equal(message, expected);
}
