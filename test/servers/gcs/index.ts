export { FIREBASE_TOOLS_VERSION, type GcsEmulator, startGcsEmulator } from './emulator.ts';
export {
  type Fault,
  failNext,
  type GcsProxy,
  type GcsProxyOptions,
  type RecordedRequest,
  startGcsProxy,
} from './proxy.ts';
