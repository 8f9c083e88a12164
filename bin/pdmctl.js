#!/usr/bin/env node
require('../dist/cli/pdmctl.js').main();
