import { lockstepTsupConfig } from '../../tsup.shared.js';

export default lockstepTsupConfig();
