// devd.conf subset: the FreeBSD handbook HAST+CARP rules as written, modern CARP rules, comments,
// options/set variables, priorities (first match wins, like devd), anchored case-insensitive regexes,
// inversion, $variable substitution, and real /bin/sh actions (serialized, timeout, logged).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DevdRunner,
  actionsFor,
  carpEvent,
  devdRegex,
  eventsForTransition,
  expandDevd,
  findRule,
  ifnetEvent,
  parseDevdConf,
  type DevdConfig,
} from "../../src/host/devd.js";

const HANDBOOK = `notify 30 {
  match "system" "IFNET";
  match "subsystem" "carp0";
  match "type" "LINK_UP";
  action "/usr/local/sbin/carp-hast-switch master";
};
notify 30 {
  match "system" "IFNET";
  match "subsystem" "carp0";
  match "type" "LINK_DOWN";
  action "/usr/local/sbin/carp-hast-switch slave";
};
`;

function parse(text: string): DevdConfig {
  const r = parseDevdConf(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "carp-devd-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parsing", () => {
  it("reads the handbook HAST+CARP file as written", () => {
    const c = parse(HANDBOOK);
    expect(c.rules.length).toBe(2);
    expect(c.rules[0]).toMatchObject({ kind: "notify", priority: 30, actions: ["/usr/local/sbin/carp-hast-switch master"] });
    expect(c.rules[0].matches.map((m) => [m.variable, m.pattern])).toEqual([
      ["system", "IFNET"],
      ["subsystem", "carp0"],
      ["type", "LINK_UP"],
    ]);
    expect(actionsFor(c, ifnetEvent("carp0", true))).toEqual(["/usr/local/sbin/carp-hast-switch master"]);
    expect(actionsFor(c, ifnetEvent("carp0", false))).toEqual(["/usr/local/sbin/carp-hast-switch slave"]);
    expect(actionsFor(c, ifnetEvent("carp1", true))).toEqual([]);
    expect(actionsFor(c, carpEvent(1, "em0", "MASTER"))).toEqual([]);
  });

  it("handles comments, options/set variables and skipped block kinds", () => {
    const c = parse(`
      # hash comment
      // slash comment
      /* block
         comment */
      options {
        directory "/etc/devd";
        set carp-if "carp[0-9]+";
        set script "/usr/local/sbin/switch";
      };
      attach 100 { device-name "em0"; action "echo attach"; };
      nomatch 0 { action "echo nomatch"; };
      notify 0 {
        match "system" "IFNET";
        match "subsystem" "$carp-if";   // expanded at parse time
        action "$script $subsystem $type";
      };
    `);
    expect(c.variables).toEqual({ "carp-if": "carp[0-9]+", script: "/usr/local/sbin/switch" });
    expect(c.notes.some((n) => /attach block kept but never fires/.test(n))).toBe(true);
    expect(c.notes.some((n) => /directory/.test(n))).toBe(true);
    expect(actionsFor(c, ifnetEvent("carp12", false))).toEqual(["/usr/local/sbin/switch carp12 LINK_DOWN"]);
    expect(actionsFor(c, ifnetEvent("em0", false))).toEqual([]);
  });

  it("returns errors with the line number", () => {
    expect(parseDevdConf(`notify 0 {\n match "system";\n};`)).toEqual({ ok: false, error: "line 2: match: expected a variable and a value" });
    expect(parseDevdConf(`notify x { };`)).toMatchObject({ ok: false, error: expect.stringMatching(/priority/) });
    expect(parseDevdConf(`notify 0 {\n  action "x"\n};`)).toMatchObject({ ok: false, error: expect.stringMatching(/line 2: expected ";"/) });
    expect(parseDevdConf(`notify 0 { match "a" "(" ; };`)).toMatchObject({ ok: false, error: expect.stringMatching(/bad regex/) });
    expect(parseDevdConf(`frobnicate 1 { };`)).toMatchObject({ ok: false, error: expect.stringMatching(/unknown block/) });
    expect(parseDevdConf(`notify 1 { action "x; };`)).toMatchObject({ ok: false, error: expect.stringMatching(/unterminated string/) });
    expect(parseDevdConf(`/* never closed`)).toMatchObject({ ok: false });
  });
});

describe("real-world rule shapes", () => {
  it("carp(4)-style and pfSense-style CARP rules, and a stock devd.conf excerpt, parse and match", () => {
    const c = parse(`
options {
        directory "/etc/devd";
        directory "/usr/local/etc/devd";
        pid-file "/var/run/devd.pid";
        set scsi-controller-regex
                "(aac|adv|ahc|ahd|mpt|mps)\\
                [0-9]+";
};
attach 100 {
        device-name "$scsi-controller-regex";
        action "camcontrol rescan all";
};
notify 0 {
        match "system"          "IFNET";
        match "type"            "LINK_UP";
        media-type              "ethernet";
        action "service dhclient quietstart $subsystem";
};
notify 100 {
        match "system"          "CARP";
        match "subsystem"       "[0-9]+@[0-9a-z.]+";
        match "type"            "(MASTER|BACKUP)";
        action "/root/carpcontrol.sh $subsystem $type";
};
notify 200 {
        match "system" "CARP";
        match "subsystem" "[0-9]+@[0-9a-z_]+";
        match "type" "MASTER";
        action "/usr/local/sbin/pfSctl -c 'interface carpmaster $subsystem'";
};
`);
    expect(c.rules.map((r) => `${r.kind}:${r.priority}`)).toEqual(["notify:200", "attach:100", "notify:100", "notify:0"]);
    expect(c.notes.some((n) => /media-type ethernet not supported/.test(n))).toBe(true);
    expect(actionsFor(c, carpEvent(5, "em0", "MASTER"))).toEqual(["/usr/local/sbin/pfSctl -c 'interface carpmaster 5@em0'"]);
    expect(actionsFor(c, carpEvent(5, "em0.100", "BACKUP"))).toEqual(["/root/carpcontrol.sh 5@em0.100 BACKUP"]);
    expect(actionsFor(c, carpEvent(5, "em0", "INIT"))).toEqual([]);
    // media-type cannot be evaluated here: that block never fires.
    expect(actionsFor(c, { system: "IFNET", subsystem: "em0", type: "LINK_UP" })).toEqual([]);
  });
});

describe("matching like devd", () => {
  it("anchors regexes, ignores case, supports ! and POSIX classes", () => {
    expect(devdRegex("carp0").test("carp0")).toBe(true);
    expect(devdRegex("carp0").test("carp01")).toBe(false); // anchored at the end
    expect(devdRegex("carp0").test("xcarp0")).toBe(false); // and at the start
    expect(devdRegex("link_up").test("LINK_UP")).toBe(true); // REG_ICASE
    expect(devdRegex("[[:digit:]]+@em[0-9]").test("12@em0")).toBe(true);
    const c = parse(`notify 0 { match "system" "CARP"; match "type" "!MASTER"; action "not master $type"; };`);
    expect(actionsFor(c, carpEvent(1, "em0", "BACKUP"))).toEqual(["not master BACKUP"]);
    expect(actionsFor(c, carpEvent(1, "em0", "MASTER"))).toEqual([]);
  });

  it("runs only the first matching block, highest priority first (stable for equal priorities)", () => {
    const c = parse(`
      notify 0 { match "system" "CARP"; action "low"; };
      notify 100 { match "system" "CARP"; match "subsystem" "1@em0"; action "high-1"; action "high-2"; };
      notify 50 { match "system" "CARP"; action "mid-a"; };
      notify 50 { match "system" "CARP"; action "mid-b"; };
    `);
    expect(c.rules.map((r) => r.priority)).toEqual([100, 50, 50, 0]);
    expect(actionsFor(c, carpEvent(1, "em0", "MASTER"))).toEqual(["high-1", "high-2"]);
    expect(actionsFor(c, carpEvent(2, "em0", "MASTER"))).toEqual(["mid-a"]);
    expect(findRule(c, { system: "IFNET", subsystem: "em0", type: "LINK_UP" })).toBeNull();
  });

  it("substitutes $variables in actions ($$, unknown -> empty, $(...) passes through)", () => {
    const vars: Record<string, string> = { system: "CARP", subsystem: "3@em1", type: "MASTER" };
    expect(expandDevd("x $system/$subsystem/$type $nothing. $$HOME $(date) $1", (n) => vars[n])).toBe(
      "x CARP/3@em1/MASTER . $HOME $(date) $1",
    );
    const c = parse(`notify 0 { match "system" "CARP"; match "subsystem" "[0-9]+@em[0-9]+"; action "/etc/rc.carp $subsystem $type"; };`);
    expect(actionsFor(c, carpEvent(3, "em1", "BACKUP"))).toEqual(["/etc/rc.carp 3@em1 BACKUP"]);
  });

  it("maps transitions to CARP and FreeBSD-8 IFNET events", () => {
    const v = { vhid: 1, interface: "em0", carpName: "carp0" };
    expect(eventsForTransition(v, "BACKUP", "MASTER")).toEqual([
      { system: "CARP", subsystem: "1@em0", type: "MASTER" },
      { system: "IFNET", subsystem: "carp0", type: "LINK_UP" },
    ]);
    expect(eventsForTransition(v, "MASTER", "INIT")).toEqual([
      { system: "CARP", subsystem: "1@em0", type: "INIT" },
      { system: "IFNET", subsystem: "carp0", type: "LINK_DOWN" },
    ]);
    expect(eventsForTransition(v, "INIT", "BACKUP")).toEqual([{ system: "CARP", subsystem: "1@em0", type: "BACKUP" }]);
    expect(eventsForTransition({ vhid: 1, interface: "em0" }, "BACKUP", "MASTER").length).toBe(1);
  });
});

describe("DevdRunner with /bin/sh", () => {
  it("runs the handbook rules for real, serialized and logged", async () => {
    const log = join(dir, "hast.log");
    // The handbook file with the script path pointed at a temp log (the rules are otherwise as written).
    const text = HANDBOOK.replaceAll("/usr/local/sbin/carp-hast-switch", `sleep 0.1; echo >> ${log}`);
    const results: Array<{ command: string; code: number | null }> = [];
    const r = new DevdRunner(parse(text), { onResult: (x) => results.push({ command: x.command, code: x.code }) });
    const p1 = r.dispatch(ifnetEvent("carp0", true));
    const p2 = r.dispatch(ifnetEvent("carp0", false));
    const p3 = r.dispatch(ifnetEvent("carp0", true));
    await Promise.all([p1, p2, p3]);
    expect(readFileSync(log, "utf8").split("\n").filter(Boolean)).toEqual(["master", "slave", "master"]);
    expect(results.map((x) => x.code)).toEqual([0, 0, 0]);
    expect(await r.dispatch(ifnetEvent("carp9", true))).toEqual([]);
  });

  it("times out a hanging action and reports non-zero exits", async () => {
    const c = parse(`notify 0 { match "type" "MASTER"; action "sleep 20"; action "exit 4"; };`);
    const r = new DevdRunner(c, { timeoutMs: 200, killGraceMs: 100 });
    const t0 = Date.now();
    const res = await r.dispatch(carpEvent(1, "em0", "MASTER"));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res[0].timedOut).toBe(true);
    expect(res[1].code).toBe(4);
  });
});
