/**
 * cli: the `tbuild` command. Flags, subcommands and progress display.
 * Imports worker, frontend, solver and core; reads the environment (it is an edge).
 */
export { main, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './main.js';
