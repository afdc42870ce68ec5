import { loadConfig } from '../common/config';
import { EventSigner } from '../common/events/event-signing';

/**
 * `npm run events -- public-keys`: the public keys that verify auth.events.v1 (a JWKS of Ed25519
 * keys), to hand to the services that consume the events. Never prints a private key.
 */
function main(argv: string[]): void {
  const [command] = argv;
  if (command !== 'public-keys') {
    process.stderr.write('usage: npm run events -- public-keys\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify({ keys: EventSigner.fromConfig(loadConfig()).publicKeys() }, null, 2)}\n`);
}

main(process.argv.slice(2));
