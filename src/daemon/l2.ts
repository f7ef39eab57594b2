// Moved to src/host/announce.ts (AF_PACKET, no libpcap); kept so existing imports keep working.
export { Announcer, interfaceInfo, type InterfaceInfo } from "../host/announce.js";
