#!/usr/bin/env node
// The admin CLI; see broker/src/bin/kafscale.ts.
import '../dist/src/bin/kafscale.js';
