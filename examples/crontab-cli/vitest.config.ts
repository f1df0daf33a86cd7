import { lockstepVitestConfig } from '../../vitest.shared.js';

export default lockstepVitestConfig();
