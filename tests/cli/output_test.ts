// The output directory: refold replaces only what its manifest says it wrote, never a file it
// read, never a symbolic link, and leaves directories with the modes the umask gives.
import assert from "node:assert/strict";
import { checkOutputDir, writeOutputDir } from "../../cli/output.ts";
import { MANIFEST } from "../../cli/manifest.ts";
import { RefoldError } from "../../ir/mod.ts";
import { join } from "../_path.ts";
import { exists } from "./_run.ts";

const FILES = [
  { path: "model.js", contents: "export {};\n" },
  { path: "model.d.ts", contents: "export {};\n" },
  { path: "weights.bin", contents: new Uint8Array([1, 2, 3, 4]) },
];

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "refold-out-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function write(path: string, text: string): void {
  Deno.mkdirSync(join(path, ".."), { recursive: true });
  Deno.writeTextFileSync(path, text);
}

async function refusal(action: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"), error.message);
    return error.message;
  }
  return assert.fail("expected a RefoldError");
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();

Deno.test("output: a directory with a model.js of its own and other files is left alone", async () => {
  await inTempDir(async (dir) => {
    const app = join(dir, "app");
    write(join(app, "model.js"), "// the app's own model.js");
    write(join(app, ".env"), "SECRET=1");
    write(join(app, "src", "main.ts"), "main();");
    const message = await refusal(() => writeOutputDir(app, FILES));
    assert.equal(
      message,
      `--out ${app} holds ".env", "model.js", "src", which refold did not write (it has no ` +
        `${MANIFEST}); refusing to touch it`,
    );
    assert.equal(Deno.readTextFileSync(join(app, ".env")), "SECRET=1");
    assert.equal(Deno.readTextFileSync(join(app, "model.js")), "// the app's own model.js");
    assert.ok(exists(join(app, "src", "main.ts")));
    assert.deepEqual(names(app), [".env", "model.js", "src"]);
    // checkOutputDir says the same before anything is compiled.
    assert.equal(await refusal(() => checkOutputDir(app, join(dir, "m.json"))), message);
  });
});

Deno.test("output: an earlier output is replaced file by file; stale files go", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "out");
    await writeOutputDir(out, FILES);
    assert.deepEqual(names(out), [MANIFEST, "model.d.ts", "model.js", "weights.bin"]);
    const manifest = JSON.parse(Deno.readTextFileSync(join(out, MANIFEST)));
    assert.deepEqual(manifest, {
      generator: "refold",
      version: 1,
      files: ["model.d.ts", "model.js", "weights.bin"],
    });
    const inode = Deno.statSync(out).ino;
    Deno.chmodSync(out, 0o750);
    // Weights embedded this time: weights.bin must not survive from the last run.
    await writeOutputDir(out, [{ path: "model.js", contents: "// new" }, FILES[1]]);
    assert.deepEqual(names(out), [MANIFEST, "model.d.ts", "model.js"]);
    assert.equal(Deno.readTextFileSync(join(out, "model.js")), "// new");
    assert.equal(Deno.statSync(out).ino, inode, "the directory itself is kept");
    assert.equal(Deno.statSync(out).mode! & 0o777, 0o750, "and so is its mode");
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(join(out, MANIFEST))).files, [
      "model.d.ts",
      "model.js",
    ]);
  });
});

Deno.test("output: an empty directory is written in place", async () => {
  await inTempDir(async (dir) => {
    await writeOutputDir(dir, FILES);
    assert.deepEqual(names(dir), [MANIFEST, "model.d.ts", "model.js", "weights.bin"]);
  });
});

Deno.test("output: a file the manifest does not list stops the replacement", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "out");
    await writeOutputDir(out, FILES);
    write(join(out, "notes.txt"), "mine");
    assert.equal(
      await refusal(() => writeOutputDir(out, FILES)),
      `--out ${out} holds "notes.txt", which its ${MANIFEST} does not list; refusing to touch it`,
    );
    assert.equal(Deno.readTextFileSync(join(out, "notes.txt")), "mine");
  });
});

Deno.test("output: a listed name that is a link or a directory is not refold's", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "out");
    await writeOutputDir(out, FILES);
    write(join(dir, "precious.bin"), "keep");
    Deno.removeSync(join(out, "weights.bin"));
    Deno.symlinkSync(join(dir, "precious.bin"), join(out, "weights.bin"));
    assert.match(
      await refusal(() => writeOutputDir(out, FILES)),
      /"weights\.bin" is not a regular/,
    );
    assert.equal(Deno.readTextFileSync(join(dir, "precious.bin")), "keep");
    assert.ok(Deno.lstatSync(join(out, "weights.bin")).isSymlink);
  });
});

Deno.test("output: a manifest refold could not have written is refused", async () => {
  await inTempDir(async (dir) => {
    for (
      const text of [
        "{",
        '{"generator":"refold","version":1,"files":["../escape"]}',
        '{"generator":"refold","version":1,"files":[".env"]}',
        '{"generator":"someone","version":1,"files":[]}',
      ]
    ) {
      write(join(dir, MANIFEST), text);
      assert.match(await refusal(() => writeOutputDir(dir, FILES)), /is not a manifest refold/);
    }
  });
});

Deno.test("output: a file the compilation read is never replaced, even when listed", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "out");
    await writeOutputDir(out, [{ path: "model.onnx", contents: "earlier export" }]);
    // The user now compiles out/model.onnx itself, with --out out.
    const model = join(out, "model.onnx");
    assert.equal(
      await refusal(() =>
        writeOutputDir(out, [{ path: "model.onnx", contents: "new" }], { inputs: [model] })
      ),
      `--out ${out}: "model.onnx" is the input ${model}; refold never replaces what it reads`,
    );
    assert.equal(Deno.readTextFileSync(model), "earlier export");
    // A hard link is the same file under another name.
    const other = join(dir, "other.onnx");
    Deno.linkSync(model, other);
    await assert.rejects(
      () => writeOutputDir(out, [{ path: "model.js", contents: "" }], { inputs: [other] }),
      RefoldError,
    );
    assert.equal(Deno.readTextFileSync(model), "earlier export");
  });
});

Deno.test("output: --out through a symbolic link writes into its target and keeps the link", async () => {
  await inTempDir(async (dir) => {
    const real = join(dir, "real"), link = join(dir, "link");
    Deno.mkdirSync(real);
    Deno.symlinkSync(real, link);
    await writeOutputDir(link, FILES);
    assert.ok(Deno.lstatSync(link).isSymlink, "the link is still a link");
    assert.deepEqual(names(real), [MANIFEST, "model.d.ts", "model.js", "weights.bin"]);
    await writeOutputDir(link, FILES.slice(0, 1));
    assert.ok(Deno.lstatSync(link).isSymlink);
    assert.deepEqual(names(real), [MANIFEST, "model.js"]);
    // A link to nothing is refused rather than replaced.
    const dangling = join(dir, "dangling");
    Deno.symlinkSync(join(dir, "missing"), dangling);
    assert.equal(
      await refusal(() => writeOutputDir(dangling, FILES)),
      `--out ${dangling} is a symbolic link to nothing; refusing to replace it`,
    );
    assert.ok(Deno.lstatSync(dangling).isSymlink);
    assert.ok(!exists(join(dir, "missing")));
    // A link to a file is not a directory.
    write(join(dir, "file"), "x");
    Deno.symlinkSync(join(dir, "file"), join(dir, "to-file"));
    assert.match(await refusal(() => writeOutputDir(join(dir, "to-file"), FILES)), /not a dir/);
  });
});

Deno.test("output: an interrupted replacement is recognized and cleaned up", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "out");
    await writeOutputDir(out, FILES);
    // What a run killed half-way leaves: the staging directory, listed in the manifest.
    const staging = ".refold-staging-0123456789ab";
    write(join(out, staging, "model.js"), "half");
    write(
      join(out, MANIFEST),
      JSON.stringify({ generator: "refold", version: 1, files: ["model.js"], staging }),
    );
    Deno.removeSync(join(out, "model.d.ts")); // renamed away when the run died
    assert.match(await refusal(() => writeOutputDir(out, FILES)), /holds "weights\.bin", which/);
    write(
      join(out, MANIFEST),
      JSON.stringify({
        generator: "refold",
        version: 1,
        files: ["model.d.ts", "model.js", "weights.bin"],
        staging,
      }),
    );
    await writeOutputDir(out, FILES);
    assert.deepEqual(names(out), [MANIFEST, "model.d.ts", "model.js", "weights.bin"]);
  });
});

Deno.test("output: a new directory appears whole, staged beside it", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "deep", "out");
    await writeOutputDir(out, FILES);
    assert.deepEqual(names(join(dir, "deep")), ["out"]);
    // A backend's bad file name is refold's bug: not a RefoldError, and nothing is written.
    await assert.rejects(
      () => writeOutputDir(join(dir, "other"), [{ path: "../x", contents: "" }]),
      (error) => !(error instanceof RefoldError),
    );
    assert.ok(!exists(join(dir, "other")));
  });
});
