// Loaded into every Node program of a pod (NODE_OPTIONS). Pods here share the host's network, so
// a listener on the wildcard address (`:8080`, `0.0.0.0`, `::`) is bound to the pod's own
// loopback address instead, as it would be inside the pod's network namespace.
import net from 'node:net';

const podIp = process.env.KAFSCALE_E2E_POD_IP;
const WILDCARDS = new Set([undefined, null, '', '0.0.0.0', '::', '[::]']);

if (podIp) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    const [first] = args;
    if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      if (typeof args[1] !== 'string' || WILDCARDS.has(args[1])) {
        const rest =
          typeof args[1] === 'string' || args[1] === undefined ? args.slice(2) : args.slice(1);
        return listen.call(this, Number(first), podIp, ...rest);
      }
    } else if (first && typeof first === 'object' && first.path === undefined) {
      if (WILDCARDS.has(first.host))
        return listen.call(this, { ...first, host: podIp }, ...args.slice(1));
    }
    return listen.apply(this, args);
  };
}
