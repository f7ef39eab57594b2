// Real link events (netlink) inside a private namespace: veth va <-> vb; setting va or its peer down must
// produce down events ("interface down" / "no carrier") and up again; ignoreIfState suppresses them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { uniquePrefix } from "../../src/lab/names.js";
import { LinkWatcher, linkStatusFrom, queryLink, type LinkStatus } from "../../src/host/link.js";
import { createNs, waitFor, type TestNs } from "./netns-helper.js";

let ns: TestNs;
beforeAll(() => {
  ns = createNs("clnk");
});
afterAll(() => ns?.destroy());

describe("link status rules", () => {
  it("needs UP and LOWER_UP", () => {
    expect(linkStatusFrom(["BROADCAST", "UP", "LOWER_UP"], "UP").up).toBe(true);
    expect(linkStatusFrom(["BROADCAST", "UP", "LOWER_UP"], "UNKNOWN").up).toBe(true);
    expect(linkStatusFrom(["BROADCAST"], "DOWN")).toMatchObject({ up: false, reason: "interface down" });
    expect(linkStatusFrom(["NO-CARRIER", "BROADCAST", "UP"], "LOWERLAYERDOWN")).toMatchObject({ up: false, reason: "no carrier" });
  });
});

describe("LinkWatcher in a namespace", () => {
  it("reports initial state and down/up transitions (admin down and carrier loss)", async () => {
    expect((await queryLink("va", { netns: ns.name })).up).toBe(true);
    expect(await queryLink("nosuch0", { netns: ns.name })).toMatchObject({ up: false, reason: "no such interface" });
    const w = new LinkWatcher("va", { netns: ns.name });
    const seen: LinkStatus[] = [];
    w.on("change", (s: LinkStatus) => seen.push(s));
    const initial = await w.start();
    try {
      expect(initial.up).toBe(true);
      ns.ip("link", "set", "va", "down");
      expect(await waitFor(() => seen.length >= 1)).toBe(true);
      expect(seen[0]).toMatchObject({ up: false, reason: "interface down" });
      ns.ip("link", "set", "va", "up");
      expect(await waitFor(() => seen.length >= 2)).toBe(true);
      expect(seen[1].up).toBe(true);
      ns.ip("link", "set", "vb", "down"); // peer down: carrier lost on va
      expect(await waitFor(() => seen.length >= 3)).toBe(true);
      expect(seen[2]).toMatchObject({ up: false, reason: "no carrier" });
      expect(w.status.up).toBe(false);
      ns.ip("link", "set", "vb", "up");
      expect(await waitFor(() => seen.length >= 4)).toBe(true);
      expect(seen[3].up).toBe(true);
      // Unrelated changes (addresses, other links) do not produce events.
      ns.ip("addr", "add", "198.51.100.1/24", "dev", "va");
      ns.ip("link", "set", "vb", "mtu", "1400");
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.length).toBe(4);
    } finally {
      w.stop();
    }
  });

  it("ignoreIfState reports up and never emits", async () => {
    const w = new LinkWatcher("va", { netns: ns.name, ignoreIfState: true });
    const seen: LinkStatus[] = [];
    w.on("change", (s: LinkStatus) => seen.push(s));
    expect((await w.start()).up).toBe(true);
    ns.ip("link", "set", "va", "down");
    await new Promise((r) => setTimeout(r, 300));
    ns.ip("link", "set", "va", "up");
    expect(seen).toEqual([]);
    expect(w.status.up).toBe(true);
    w.stop();
  });
});

describe("LinkWatcher fallback", () => {
  it("polls when no netlink subscription can be opened (its namespace appears later), and still sees down/up", async () => {
    const name = uniquePrefix("tlf").replace(/-$/, "");
    const sh = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
    const w = new LinkWatcher("va", { netns: name, pollMs: 100 });
    const errors: string[] = [];
    const seen: LinkStatus[] = [];
    w.on("error", (e: string) => errors.push(e));
    w.on("change", (s: LinkStatus) => seen.push(s));
    try {
      expect(await w.start()).toMatchObject({ up: false });
      expect(w.subscribed).toBe(false);
      expect(await waitFor(() => errors.length > 0)).toBe(true);
      expect(errors[0]).toMatch(/ENOENT.*polling instead/);
      sh("netns", "add", name);
      sh("-n", name, "link", "add", "va", "type", "veth", "peer", "name", "vb");
      sh("-n", name, "link", "set", "vb", "up");
      sh("-n", name, "link", "set", "va", "up");
      expect(await waitFor(() => seen.some((s) => s.up))).toBe(true);
      sh("-n", name, "link", "set", "va", "down");
      expect(await waitFor(() => seen.length >= 2 && !seen[seen.length - 1].up)).toBe(true);
      expect(seen[seen.length - 1]).toMatchObject({ up: false, reason: "interface down" });
    } finally {
      w.stop();
      try {
        sh("netns", "del", name);
      } catch {
        /* never created */
      }
    }
  });
});
