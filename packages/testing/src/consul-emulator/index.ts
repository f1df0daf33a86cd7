export type { EmulatorClock } from './clock.js';
export {
  ConsulEmulatorOptionError,
  type ConsulEmulatorOptions,
  DEFAULT_SESSION_TTL_MIN_MS,
  SESSION_TTL_MAX_MS,
} from './options.js';
export { type ConsulEmulator, EMULATOR_HEADER, startConsulEmulator } from './server.js';
