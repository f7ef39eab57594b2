// A strict reader of the Prometheus text exposition format (0.0.4) for tests: every line is a HELP, a TYPE
// or a sample; a sample's family must have been declared by TYPE before it, families are not repeated.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; errors: string[] } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const errors: string[] = [];
  if (!text.endsWith("\n")) errors.push("does not end with a newline");
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, i) => {
    const at = `line ${i + 1}: ${line}`;
    if (line.startsWith("# HELP ")) {
      if (!NAME.test(line.split(" ")[2] ?? "")) errors.push(`${at}: bad HELP`);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      if (!NAME.test(name ?? "") || !["gauge", "counter", "untyped", "histogram", "summary"].includes(type ?? "")) errors.push(`${at}: bad TYPE`);
      if (types.has(name)) errors.push(`${at}: family declared twice`);
      types.set(name, type);
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) return void errors.push(`${at}: not a sample`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== "") {
      LABEL.lastIndex = 0;
      let pos = 0;
      for (let lm = LABEL.exec(m[2]); lm; lm = LABEL.exec(m[2])) {
        labels[lm[1]] = lm[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        pos = LABEL.lastIndex;
        if (lm[3] === "") break;
      }
      if (pos !== m[2].length) errors.push(`${at}: bad labels`);
    }
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") errors.push(`${at}: bad value`);
    if (!types.has(m[1])) errors.push(`${at}: sample before its TYPE`);
    if (types.get(m[1]) === "counter" && !m[1].endsWith("_total")) errors.push(`${at}: counter without _total`);
    samples.push({ name: m[1], labels, value });
  });
  return { samples, types, errors };
}
