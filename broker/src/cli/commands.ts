import type { CliCommand } from './command.js';
import { usersCommand } from './users.js';

/** Every `kafscale` subcommand, in the order `kafscale help` lists them. */
export const COMMANDS: CliCommand[] = [usersCommand];
