/**
 * Attribute values and their one canonical text form, shared by the printer,
 * the parser and error messages: keys sorted, values in JSON syntax.
 */

/** A value an attribute may hold. */
export type AttrValue = number | string | boolean | readonly number[];

/** `{groups=4, pads=[1,1,1,1]}`, or "" when there are no attributes. */
export function formatAttrs(attrs: object): string {
  const entries = Object.entries(attrs).filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return "";
  return `{${entries.map(([key, value]) => `${key}=${formatValue(value)}`).join(", ")}}`;
}

function formatValue(value: unknown): string {
  if (typeof value === "number") return formatNumber(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(",")}]`;
  return JSON.stringify(value);
}

/** Numbers print so that they parse back bit-identically, with no "+" in exponents. */
function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return String(value);
}
