/**
 * Finds connections that carry no request, for the drain to close.
 *
 * Why by hand: Node's `closeIdleConnections()` skips a connection that has not sent a request yet
 * (a browser's preconnect, or a spare socket a client pool opened): Node counts it active from the
 * moment it is accepted, so that HEADER_TIMEOUT can cut slowloris clients. But `server.close()`
 * stops that timeout checker, so during a drain such a connection stays open and holds the drain
 * until GRACEFUL_TIMEOUT.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Tracks a server's sockets; `sweep()` closes those that carry nothing (call it repeatedly). */
export class IdleSockets {
  readonly #sockets = new Map<Socket, number>();

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#sockets.set(socket, -1);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /**
   * Closes every socket with no response in progress and no bytes received since the previous
   * sweep: a request still arriving keeps its connection.
   */
  sweep(): void {
    for (const [socket, bytesBefore] of this.#sockets) {
      const busy = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
      if (!busy && socket.bytesRead === bytesBefore) socket.destroy();
      else this.#sockets.set(socket, socket.bytesRead);
    }
  }
}
