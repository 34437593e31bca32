#!/usr/bin/env node
// Entry point of the installed CLI; the code lives in dist/ (npm run build).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
