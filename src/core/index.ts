// Public API of the sans-I/O CARP election core.
export type {
  Action,
  AdvertOut,
  AnnounceWhy,
  CarpState,
  ClusterInput,
  Command,
  Effect,
  Event,
  Input,
  LastMaster,
  ReceivedAdvert,
  ResolvedParams,
  Result,
  StepResult,
  TimerName,
  Transmit,
  VhidParams,
  VhidRef,
  VhidState,
  VhidStats,
  ReplayState,
  VhidStatus,
} from "./types.js";
export { resolveParams, advbaseError, advskewError } from "./params.js";
export {
  advertIntervalUs,
  advertTimeUs,
  masterDownUs,
  skewUs,
  willTimeOutUs,
  usToMs,
  MAX_SKEW,
  BOW_OUT,
} from "./timing.js";
export {
  decideAsBackup,
  decideAsMaster,
  predictWinner,
  ipTieKey,
  isBowOut,
  type BackupDecision,
  type MasterDecision,
  type OurSide,
  type TheirSide,
  type Candidate,
  type Prediction,
} from "./election.js";
export {
  createVhid,
  step,
  status,
  effectiveAdvskew,
  demoteByte,
  totalDemotion,
  masterDownFor,
  advertIntervalFor,
  type VhidInit,
} from "./vhid.js";
export { Cluster, MAX_CATCH_UP_MS, type ClusterStatus, type DemotionEntry, type DemotionView } from "./cluster.js";
export {
  Simulator,
  seededLoss,
  seededRandom,
  type SimNodeConfig,
  type SimOptions,
  type Delivery,
  type LossFn,
  type TransitionRecord,
  type ActionRecord,
  type NodeState,
} from "./sim.js";
export { explain } from "./explain.js";
