// node-carp library entry. The daemon as an embeddable EventEmitter (CarpNode), its configuration front
// ends, and the layers underneath: wire codecs and HMAC (protocol), the sans-I/O election (core), and the
// Linux effects (host). Everything here is also what `carp run|status|set` use.
//
//   import { CarpNode, loadConfigFromArgv } from "node-carp";
//   const cfg = loadConfigFromArgv(["-i", "eth0", "-s", "198.51.100.2", "-v", "1", "-p", "pw", "-a", "198.51.100.10"]);
//   if (cfg.ok && !cfg.value.help) { const node = new CarpNode(cfg.value); node.on("transition", console.log); await node.start(); }

// Daemon
export { CarpNode, CarpNodeError } from "./daemon/node.js";
export type { CarpNodeOptions, CarpNodeEvents, CarpStats, NodeStatus, SetRequest, TransitionEvent, VhidReport } from "./daemon/node.js";
export { ControlServer, controlRequest, type ControlRequest, type ControlResponse } from "./daemon/control.js";
export { Logger, formatLog, type LogEntry, type LogLevel } from "./daemon/log.js";
export { normalizeConfig, parseAddress, mergeVhids, DEFAULTS as CONFIG_DEFAULTS } from "./daemon/config.js";
export type { Config, VhidConfig, VipAddress, RawVhid, RawGlobal, LogFormat, HookMode } from "./daemon/config.js";
export { loadConfigFromArgv, parseUcarpArgv, UCARP_USAGE } from "./daemon/config-ucarp.js";
export { parseYamlConfig } from "./daemon/config-yaml.js";
export { parseRcConf } from "./daemon/config-rcconf.js";

// Sans-I/O election core
export * from "./core/index.js";

// Protocol codecs
export type { CarpHeader, CarpReason, PeerSemantics, IpFamily } from "./protocol/types.js";
export { encodeCarp, decodeCarp, carpChecksumOk, CARP_GROUP_V4, CARP_GROUP_V6, IPPROTO_CARP, CARP_HEADER_LEN } from "./protocol/carp.js";
export { CarpAuth, carpKey, carpHmacMessage, carpHmacPrefix, isHmacError, type CarpAuthConfig, type HmacError } from "./protocol/hmac.js";
export { receiveCarp, isMulticastAddress, type ReceiveResult, type ReceiveVhid, type ReceiveFacts } from "./protocol/receive.js";
export { buildGratuitousArp, parseGratuitousArp } from "./protocol/arp.js";
export { buildUnsolicitedNa, parseUnsolicitedNa } from "./protocol/ndp.js";

// Host effects (Linux)
export { CarpSocket, openCarpSocket, type ReceivedPacket, type SendResult } from "./host/rawsock.js";
export { LiveCapture, openCapture, type CapturedFrame } from "./host/capture.js";
export { VipManager, VipWatcher } from "./host/vips.js";
export { LinkWatcher, queryLink } from "./host/link.js";
export { HookRunner } from "./host/hooks.js";
export { DevdRunner, parseDevdConf } from "./host/devd.js";

// Inspector: frame decoding and the per-vhid analysis behind `carp inspect` (the Analyzer is also
// importable alone as "node-carp/inspect"), and pcap/pcapng reading and writing.
export { Analyzer, type AnalyzerOptions, type AdvertFacts } from "./inspect/analyzer.js";
export { decodeFrame, type Decoded } from "./inspect/decode.js";
export type { Row, Announcement, Problem, Severity, SummaryView, VhidView } from "./inspect/types.js";
export { readCapture, readCaptureSync, encodePcap, PcapWriter, type CapturePacket, type CaptureError } from "./protocol/pcap.js";
