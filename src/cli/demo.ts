// `carp demo`: CARP working in front of you, in throwaway network namespaces. Builds a bridge with two
// of our nodes (and a ucarp node when installed) sharing a VIP plus an observer, shows a live table,
// kills the master, brings it back with preempt, hands over gracefully, prints a report and removes
// everything it made (also on Ctrl-C and errors). --ci prints plain lines and exits 1 if a phase fails.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { DEMO_PREFIX, DemoScenario, type DemoEvent } from "../lab/demo-scenario.js";
import { renderEvent, renderReport, renderTable } from "../lab/demo-view.js";
import { cleanupPrefix } from "../lab/names.js";
import { carpCli, oursAvailable } from "../lab/nodes.js";
import { Lab } from "../lab/topology.js";
import { requireTools, which } from "../lab/sys.js";
import { RuntimeError, UsageError } from "./errors.js";

export const summary = "see CARP fail over live: our nodes (+ ucarp) in network namespaces, then a report";

const HELP = `usage: carp demo [options]        (needs root: it creates network namespaces)

Builds a bridge in network namespaces with two carp nodes (h1 advskew 0, h2 advskew 50), a ucarp node
(h3 advskew 100, no preempt) when ucarp is installed, and an observer capturing adverts and running
\`carp inspect --summary\`. VIP 198.51.100.100 (documentation range), vhid 1. Then: election, steady
state, SIGKILL of the master (takeover measured on the wire), restart with preempt, graceful handover
with \`carp set --advskew\`, a report, and removal of every namespace it made.

Options
  --duration S     seconds of steady state before the master is killed (default 5, --ci 2)
  --ci, --no-tty   plain lines instead of the live table (the default when stdout is not a
                   terminal); exit status 1 if any phase fails, in every mode
  --no-ucarp       leave ucarp out even when installed
  --pcap FILE      keep the observer's capture
  --report FILE    also write the report as JSON
  --cleanup        remove namespaces and temp dirs left by crashed demo runs (${DEMO_PREFIX}*) and exit
  -h, --help

Exit: 0 all phases passed, 1 a phase failed or a runtime problem, 2 bad usage.`;

interface Args {
  duration: number;
  ci: boolean;
  ucarp: boolean;
  pcap?: string;
  report?: string;
  cleanup: boolean;
  help: boolean;
}

function parse(argv: string[]): Args {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: "string" },
        ci: { type: "boolean" },
        "no-tty": { type: "boolean" },
        "no-ucarp": { type: "boolean" },
        pcap: { type: "string" },
        report: { type: "string" },
        cleanup: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`demo: ${e instanceof Error ? e.message : e}`);
  }
  const ci = v.ci === true || v["no-tty"] === true || !process.stdout.isTTY;
  let duration = ci ? 2 : 5;
  if (v.duration !== undefined) {
    duration = Number(v.duration);
    if (!/^\d+(\.\d+)?$/.test(v.duration) || duration < 1 || duration > 3600) throw new UsageError(`demo: --duration must be 1-3600 seconds, got '${v.duration}'`);
  }
  return {
    duration,
    ci,
    ucarp: v["no-ucarp"] !== true,
    pcap: v.pcap,
    report: v.report,
    cleanup: v.cleanup === true,
    help: v.help === true,
  };
}

function preflight(a: Args): void {
  if (process.getuid?.() !== 0) throw new RuntimeError("demo: needs root to create network namespaces (try: sudo npm run demo)");
  try {
    requireTools({ ip: "iproute2", tcpdump: "tcpdump", bash: "bash" });
  } catch (e) {
    throw new RuntimeError(`demo: ${e instanceof Error ? e.message : e}`);
  }
  if (!oursAvailable()) throw new RuntimeError(`demo: ${carpCli()} cannot run our node; build first (npm run build)`);
  if (a.pcap === "" || a.report === "") throw new UsageError("demo: empty file name");
}

export async function run(argv: string[]): Promise<number> {
  const a = parse(argv);
  if (a.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (a.cleanup) {
    if (process.getuid?.() !== 0) throw new RuntimeError("demo: --cleanup needs root");
    const removed = cleanupPrefix(DEMO_PREFIX);
    process.stdout.write(removed.length ? `removed: ${removed.join(" ")}\n` : "nothing to clean up\n");
    return 0;
  }
  preflight(a);
  const withUcarp = a.ucarp && which("ucarp") !== null;
  const out = (s: string) => process.stdout.write(s + "\n");
  const tty = !a.ci;
  const t0 = Date.now();
  const log: string[] = [];
  let lastTable = "";
  const onEvent = (e: DemoEvent) => {
    if (tty && e.kind === "result" && e.result.phase !== "cleanup") lastTable = renderTable(scenario.snapshot(), { color: true });
    const line = renderEvent(e, t0, { color: tty });
    if (tty) {
      log.push(line);
      if (log.length > 12) log.shift();
    } else {
      out(line);
    }
  };
  const scenario = new DemoScenario({ steadySeconds: a.duration, ucarp: withUcarp, pcapFile: a.pcap, onEvent });

  // Ctrl-C / kill: remove the namespaces synchronously, then leave.
  const onSignal = (sig: NodeJS.Signals) => {
    Lab.destroyAll();
    if (tty) process.stdout.write("\x1b[?25h");
    process.stderr.write(`carp demo: ${sig}: namespaces removed\n`);
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  let timer: NodeJS.Timeout | undefined;
  if (tty) {
    process.stdout.write("\x1b[?25l");
    const draw = () => {
      const head = `carp demo — ${withUcarp ? "2 carp nodes + 1 ucarp" : "2 carp nodes"}, observer capturing; Ctrl-C aborts and cleans up`;
      process.stdout.write(`\x1b[H\x1b[J${head}\n\n${renderTable(scenario.snapshot(), { color: true })}\n\n${log.join("\n")}\n`);
    };
    timer = setInterval(draw, 250);
  } else {
    out(`carp demo: ${withUcarp ? "2 carp nodes + 1 ucarp" : "2 carp nodes (ucarp not installed)"}, observer capturing`);
    scenario.opts.onEvent = (e) => {
      onEvent(e);
      // A table snapshot after each phase, so logs show state per node too.
      if (e.kind === "result" && e.result.phase !== "topology" && e.result.phase !== "cleanup") out(renderTable(scenario.snapshot()));
    };
  }

  let report;
  try {
    report = await scenario.run();
  } finally {
    if (timer) clearInterval(timer);
    // The table as it stood after the last phase (after cleanup every node is gone).
    if (tty) process.stdout.write(`\x1b[?25h\x1b[H\x1b[J${lastTable}\n\n${log.join("\n")}\n`);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
  }
  out("");
  out(renderReport(report));
  if (a.report) writeFileSync(a.report, JSON.stringify(report, null, 2) + "\n");
  return report.ok ? 0 : 1;
}
