// The namespace lab: topology (bridge + hosts + impairments), processes, daemons, capture, cleanup.
export { Lab, LabHost, type HostOptions, type Impairment, type LabOptions, type LinkInfo } from "./topology.js";
export { LabProcess, type LabLine, type SpawnOptions } from "./proc.js";
export { LabNode, startNode, oursAvailable, carpCli, repoRoot, stateFromLogLine, findVhidState, type NodeKind, type NodeOptions, type NodeState } from "./nodes.js";
export { AdvertCapture, parseTcpdumpLine, intervals, measureTakeover, type Advert, type CaptureOptions } from "./capture.js";
export { uniquePrefix, cleanupPrefix, listNamespaces, checkPrefix } from "./names.js";
export { LabError, sh, which, requireTools, sleep, until } from "./sys.js";
