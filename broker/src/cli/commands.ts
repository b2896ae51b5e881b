import type { CliCommand } from './command.js';
import { groupsCommand } from './groups.js';
import { snapshotCommand } from './snapshot.js';
import { topicsCommand } from './topics.js';
import { usersCommand } from './users.js';

/** Every `kafscale` subcommand, in the order `kafscale help` lists them. */
export const COMMANDS: CliCommand[] = [usersCommand, snapshotCommand, topicsCommand, groupsCommand];
