/**
 * JSON text with errors a user can act on: JSON.parse does the parsing, and
 * only when it fails a small scanner finds the line, column and problem
 * (V8's own messages vary and sometimes quote the whole input).
 */
import { RefoldError } from "../../ir/mod.ts";

/** Nesting deeper than this is refused rather than risking the stack. */
const MAX_DEPTH = 512;

/** Parses `text`; on failure throws `file: malformed JSON at line L, column C: problem`. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const found = locateJsonError(text) ??
      { offset: text.length, problem: (error as Error).message };
    const { line, column } = lineColumn(text, found.offset);
    throw new RefoldError(`malformed JSON at line ${line}, column ${column}: ${found.problem}`, {
      file,
    });
  }
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1, lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class JsonSyntax {
  constructor(readonly offset: number, readonly problem: string) {}
}

/** The first syntax error of `text`, or undefined when it is valid JSON. */
export function locateJsonError(text: string): { offset: number; problem: string } | undefined {
  let at = 0;
  const fail = (problem: string, offset = at): never => {
    throw new JsonSyntax(offset, problem);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at])) at++;
  };
  const describe = () => at >= text.length ? "the end of the input" : JSON.stringify(text[at]);
  const string = () => {
    const start = at++;
    for (;;) {
      if (at >= text.length) fail("unterminated string", start);
      const code = text.charCodeAt(at);
      if (code === 0x22) return void at++;
      if (code < 0x20) fail("control character in a string (escape it)");
      if (code === 0x5c) {
        const escape = text[at + 1];
        if (escape === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 2, at + 6))) fail("bad \\u escape");
          at += 6;
        } else if (escape !== undefined && '"\\/bfnrt'.includes(escape)) at += 2;
        else fail("bad escape in a string");
      } else at++;
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`);
    space();
    const char = text[at];
    if (char === "{" || char === "[") {
      const close = char === "{" ? "}" : "]";
      at++;
      space();
      if (text[at] === close) return void at++;
      for (;;) {
        if (close === "}") {
          if (text[at] !== '"') {
            fail(`expected a property name in double quotes, found ${describe()}`);
          }
          string();
          space();
          if (text[at] !== ":") fail(`expected ':' after the property name, found ${describe()}`);
          at++;
        }
        value(depth + 1);
        space();
        if (text[at] === close) return void at++;
        if (text[at] !== ",") fail(`expected ',' or '${close}', found ${describe()}`);
        at++;
        space();
        if (text[at] === close) fail("trailing comma");
      }
    }
    if (char === '"') return string();
    const number = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    number.lastIndex = at;
    if (/[-0-9]/.test(char ?? "") && number.test(text)) return void (at = number.lastIndex);
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, at)) return void (at += word.length);
    }
    if (text.startsWith("NaN", at) || text.startsWith("Infinity", at)) {
      fail("NaN and Infinity are not JSON");
    }
    fail(`expected a value, found ${describe()}`);
  };
  try {
    value(0);
    space();
    if (at < text.length) fail("unexpected text after the JSON value");
    return undefined;
  } catch (error) {
    if (error instanceof JsonSyntax) return { offset: error.offset, problem: error.problem };
    throw error;
  }
}
