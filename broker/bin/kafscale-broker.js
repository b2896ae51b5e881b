#!/usr/bin/env node
// Installed with the package (npm links it at install time, before a build exists), so
// `npx kafscale-broker` works once `npm run build` has compiled the broker.
import '../dist/src/bin/kafscale-broker.js';
