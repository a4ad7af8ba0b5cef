// npm test's step before node --test: builds the server binary once for all
// test files (each file starts its own servers from it).
import { buildServer } from './server.mjs';

const bin = buildServer();
console.log(`gisbi binary: ${bin}`);
