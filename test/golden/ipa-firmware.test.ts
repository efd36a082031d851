// Golden tests: ipa-firmware frames (parse / generate / mirror). Vectors typed by hand: ipa-firmware.vectors.ts.
import { describeGolden } from './run-golden.js';
import { IPA_FIRMWARE_VECTORS } from './ipa-firmware.vectors.js';

describeGolden(IPA_FIRMWARE_VECTORS);
